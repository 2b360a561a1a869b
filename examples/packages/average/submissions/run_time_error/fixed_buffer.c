#include <stdio.h>

/* a buffer for the small group only: writes past it on large inputs */
int main(void) {
    int n;
    long long a[16], sum = 0;
    if (scanf("%d", &n) != 1) return 1;
    if (n > 16) return 3;
    for (int i = 0; i < n; ++i) {
        scanf("%lld", &a[i]);
        sum += a[i];
    }
    printf("%.9f\n", (double)sum / n);
    return 0;
}
