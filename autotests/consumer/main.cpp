// SPDX-License-Identifier: MIT
// The consumer's program: an installed QAyo in use. Prints one line the install test checks.
#include <QAyo/QAyo>
#ifdef CONSUMER_HAS_NETWORK
#include <QAyo/Network>
#endif
#ifdef CONSUMER_HAS_QML
#include <QAyo/Qml>
#endif

#include <cstdio>

using namespace std::chrono_literals;

namespace {
QAyo::Task<int> square(int x)
{
    co_await QAyo::sleep(std::chrono::milliseconds(x));
    co_return x * x;
}

QAyo::Task<> sleepAnHour()
{
    co_await QAyo::sleep(1h);
}
} // namespace

int main(int argc, char **argv)
{
    return QAyo::runAsMain(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> {
        const QList<int> inputs{1, 2, 3}; // not a temporary in the co_await (GCC 12)
        QList<int> squares;
        auto outcome = co_await QAyo::scope({.timeout = 2s}, [&](QAyo::Scope &run) -> QAyo::Task<> {
            squares = co_await run.map(square, inputs);
        });
        auto cut = co_await QAyo::scope({.timeout = 20ms}, [](QAyo::Scope &run) { run << sleepAnHour(); });
        std::printf("consumer: squares %d %d %d, first scope timed out: %s, second: %s\n",
                    squares.value(0), squares.value(1), squares.value(2),
                    outcome.timedOut ? "yes" : "no", cut.timedOut ? "yes" : "no");
    });
}
