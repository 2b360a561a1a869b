#include <stdio.h>
int main(void) {
    int lo = 1, hi = 100;
    char reply[8];
    for (;;) {
        int mid = (lo + hi) / 2;
        printf("%d\n", mid);
        fflush(stdout);
        if (scanf("%7s", reply) != 1 || reply[0] == '=') return 0;
        if (reply[0] == '<') hi = mid - 1; else lo = mid + 1;
    }
}
