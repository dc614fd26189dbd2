// SPDX-License-Identifier: MIT
// ayo's "more advanced example": three nested scopes (the root, `run` and `subrun`) and the
// branch on the inner scope's timeout.
#include <QAyo/QAyo>

#include <QTextStream>

using namespace std::chrono_literals;

namespace {
QTextStream out(stdout);

QAyo::Task<QString> step(QString name, std::chrono::milliseconds duration)
{
    co_await QAyo::sleep(duration);
    out << "  " << name << " done after " << duration.count() << " ms\n";
    out.flush();
    co_return name;
}

QAyo::Task<> anything()
{
    co_await QAyo::sleep(50ms);
    out << "  anything() done: it ran beside everything else\n";
}

// One round: foo and bar get `limit` to finish.
QAyo::Task<> round(std::chrono::milliseconds limit)
{
    out << "round with a " << limit.count() << " ms limit for foo and bar\n";
    co_await QAyo::scope([limit](QAyo::Scope &run) -> QAyo::Task<> {
        out << "  deeper into the program\n";
        run << step(QStringLiteral("stuff-1"), 20ms) << step(QStringLiteral("stuff-2"), 60ms);

        auto subrun = co_await QAyo::scope({.timeout = limit}, [](QAyo::Scope &subrun) {
            out << "  deep inside the program\n";
            subrun << step(QStringLiteral("foo"), 10ms) << step(QStringLiteral("bar"), 40ms);
        });
        if (subrun.timedOut) {
            out << "  subrun timed out: cancelling run\n";
            run.cancel();
        } else {
            for (const QVariant &result : subrun.results)
                out << "  subrun result: " << result.toString() << "\n";
        }
    });
    out << "round over: every task of it has ended\n";
}
} // namespace

int main(int argc, char **argv)
{
    return QAyo::runAsMain(argc, argv, [](QAyo::Scope &runInTop) -> QAyo::Task<> {
        out << "top of the program\n";
        runInTop << anything();
        co_await round(100ms); // foo and bar make it: results printed
        co_await round(25ms);  // bar is too slow: the whole round is cancelled
    });
}
