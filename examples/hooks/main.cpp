// SPDX-License-Identifier: MIT
// ayo's hooks example: a coroutine hook on "stopping" counts down before the program ends.
// The runner awaits it with the root scope still usable; Ctrl+C during the work also ends in
// the countdown (a second Ctrl+C exits at once).
#include <QAyo/QAyo>

#include <cstdio>

using namespace std::chrono_literals;

int main(int argc, char **argv)
{
    QAyo::Runner runner;
    QObject::connect(&runner, &QAyo::Runner::started, [] { std::puts("started"); });
    runner.addHook(QAyo::Runner::Hook::Stopping, []() -> QAyo::Task<> {
        for (int i = 3; i > 0; --i) {
            std::printf("%d\n", i);
            std::fflush(stdout);
            co_await QAyo::sleep(1s);
        }
        std::puts("Good bye");
    });
    QObject::connect(&runner, &QAyo::Runner::stopped, [] { std::puts("stopped"); });
    return runner.exec(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> {
        std::puts("working...");
        std::fflush(stdout);
        co_await QAyo::sleep(500ms);
        std::puts("work done");
        std::fflush(stdout);
    });
}
