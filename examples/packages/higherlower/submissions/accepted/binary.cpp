#include <iostream>
#include <string>

int main() {
    int lo = 1, hi = 1000;
    std::string answer;
    while (true) {
        int mid = (lo + hi) / 2;
        std::cout << mid << std::endl;
        if (!(std::cin >> answer) || answer == "correct") break;
        if (answer == "higher") lo = mid + 1; else hi = mid - 1;
    }
}
