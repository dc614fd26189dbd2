// SPDX-License-Identifier: MIT
// The example of README.md ("A taste"), quoted there; built and run by the tests.
#include <QAyo/QAyo>
using namespace std::chrono_literals;

QAyo::Task<> zzz(int id)
{
    co_await QAyo::sleep(std::chrono::milliseconds(10 * id)); // cancellable
    qInfo() << "sleeper" << id << "done";
}

int main(int argc, char **argv)
{
    return QAyo::runAsMain(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> {
        auto outcome = co_await QAyo::scope({.maxConcurrency = 10, .timeout = 120ms},
                                            [](QAyo::Scope &run) {
            for (int id = 0; id < 20; ++id)
                run << zzz(id);
        });
        if (outcome.timedOut)
            qInfo() << "the slow ones were cancelled";
    });
}
