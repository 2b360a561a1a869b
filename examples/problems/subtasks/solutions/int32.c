/* 32-bit sum: wrong once the sum (or a number) passes 2^31 */
#include <stdio.h>

int main(void) {
    int n, x;
    unsigned sum = 0; /* unsigned: wraps without undefined behaviour */
    if (scanf("%d", &n) != 1) return 1;
    for (int i = 0; i < n; i++) {
        if (scanf("%d", &x) != 1) x = 0;
        sum += (unsigned)x;
    }
    printf("%d\n", (int)sum);
    return 0;
}
