// 64-bit sum: wraps when the sum passes 2^63 (large-3, large-4, large-5)
#include <cstdio>

int main() {
    int n;
    if (std::scanf("%d", &n) != 1) return 1;
    unsigned long long sum = 0;  // unsigned: wraps without undefined behaviour
    for (int i = 0; i < n; i++) {
        long long x;
        std::scanf("%lld", &x);
        sum += (unsigned long long)x;
    }
    std::printf("%lld\n", (long long)sum);
}
