// SPDX-License-Identifier: MIT
// ayo's hello world: the program is a coroutine; sleep, then print. runAsMain makes the
// QCoreApplication, runs main in the root scope and returns the exit code.
#include <QAyo/QAyo>

#include <cstdio>

using namespace std::chrono_literals;

int main(int argc, char **argv)
{
    return QAyo::runAsMain(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> {
        co_await QAyo::sleep(1s);
        std::puts("Hello !");
    });
}
