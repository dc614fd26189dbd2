// SPDX-License-Identifier: MIT
// ayo's first scope example in Qt: 20 sleepers, at most 10 at a time, a 120 ms timeout.
// Prints which sleepers finished and which were cancelled, and the most that ran at once.
#include <QAyo/QAyo>

#include <QRandomGenerator>
#include <QTextStream>

using namespace std::chrono_literals;

namespace {
QTextStream out(stdout);
int runningNow = 0;
int mostAtOnce = 0;

QAyo::Task<> zzz(int id)
{
    const auto time = std::chrono::milliseconds(QRandomGenerator::global()->bounded(0, 151));
    ++runningNow;
    mostAtOnce = std::max(mostAtOnce, runningNow);
    try {
        co_await QAyo::sleep(time);
    } catch (const QAyo::Cancelled &) {
        --runningNow;
        out << "  sleeper " << id << " cancelled (wanted " << time.count() << " ms)\n";
        throw; // always let the cancellation go on
    }
    --runningNow;
    out << "  sleeper " << id << " slept for " << time.count() << " ms\n";
}
} // namespace

int main(int argc, char **argv)
{
    return QAyo::runAsMain(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> {
        auto outcome = co_await QAyo::scope({.maxConcurrency = 10, .timeout = 120ms}, [](QAyo::Scope &run) {
            for (int id = 0; id < 20; ++id)
                run << zzz(id); // scheduled, started on a later loop turn
        });
        // Only now, after the block: every sleeper has finished or was cancelled.
        out << (outcome.timedOut ? "timeout hit: the late sleepers were cancelled\n"
                                 : "every sleeper finished in time\n");
        out << "at most " << mostAtOnce << " sleepers ran at once (limit 10)\n";
        out.flush();
    });
}
