#include <iostream>
#include <vector>
int main() {
    long long a, b;
    std::cin >> a >> b;
    std::vector<long long> cache(100'000'000, 1);  // 800 MB: far over 64 MB
    std::cout << a + b + cache[12345] - 1 << '\n';
}
