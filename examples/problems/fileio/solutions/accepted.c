#include <stdio.h>

int main(void) {
    FILE *in = fopen("input.txt", "r"), *out = fopen("output.txt", "w");
    long long n, x, best = 0;
    if (!in || !out || fscanf(in, "%lld", &n) != 1) return 1;
    for (long long i = 0; i < n; i++) {
        if (fscanf(in, "%lld", &x) != 1) return 1;
        if (i == 0 || x > best) best = x;
    }
    fprintf(out, "%lld\n", best);
    return fclose(out) != 0;
}
