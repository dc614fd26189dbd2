// SPDX-License-Identifier: MIT
// Blocking work beside a live event loop: a SHA-256 over 64 MiB of generated data and a slow
// step loop run on pool threads while a timer on the main thread keeps printing progress; the
// slow loop notices its stop token when its scope times out; four hash jobs share a named
// executor with two threads; a watchdog on a pool thread cancels a task and a heartbeat of the
// main thread by their handles.
#include <QAyo/Aside>
#include <QAyo/QAyo>

#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QTextStream>
#include <QThread>
#include <QTimer>

#include <atomic>

using namespace std::chrono_literals;

namespace {
QTextStream out(stdout);

//! Hashes \a mebibytes MiB of data generated from \a seed, one MiB at a time, counting them in
//! \a done. Blocking: it belongs on a pool thread. Gives up between chunks once stop is requested.
QString hashGenerated(QAyo::StopToken stop, int mebibytes, int seed, std::atomic<int> *done)
{
    QCryptographicHash hash(QCryptographicHash::Sha256);
    QByteArray chunk(1 << 20, Qt::Uninitialized);
    for (int i = 0; i < mebibytes; ++i) {
        if (stop.stop_requested())
            return QStringLiteral("(stopped)");
        chunk.fill(char('a' + (seed + i) % 26));
        hash.addData(chunk);
        ++*done;
    }
    return QString::fromLatin1(hash.result().toHex().left(16));
}

//! A slow job of 100 steps of 20 ms that checks its stop token between steps; returns how many
//! steps it did.
int slowSteps(QAyo::StopToken stop, std::atomic<int> *step)
{
    for (int i = 0; i < 100; ++i) {
        if (stop.stop_requested())
            return i;
        QThread::msleep(20);
        ++*step;
    }
    return 100;
}

//! How many jobs run at once, and the most ever (any thread).
std::atomic<int> runningNow { 0 };
std::atomic<int> mostAtOnce { 0 };

//! One job of the named executor: hashes \a mebibytes MiB and notes how many ran beside it.
QString executorJob(int id, int mebibytes)
{
    const int now = ++runningNow;
    for (int seen = mostAtOnce; now > seen && !mostAtOnce.compare_exchange_weak(seen, now);) { }
    std::atomic<int> ignored { 0 };
    const QString digest = hashGenerated(QAyo::StopToken(), mebibytes, id, &ignored);
    --runningNow;
    return QStringLiteral("job %1: %2").arg(id).arg(digest);
}
} // namespace

int main(int argc, char **argv)
{
    return QAyo::runAsMain(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> {
        std::atomic<int> hashedMiB { 0 };
        std::atomic<int> slowStep { 0 };
        QElapsedTimer clock;
        clock.start();

        // The proof that the loop is live: this timer fires on the main thread while the pool
        // threads block.
        int ticks = 0;
        QTimer ticker;
        ticker.setInterval(100ms);
        QObject::connect(&ticker, &QTimer::timeout, [&] {
            out << "  [tick " << ++ticks << " at " << clock.elapsed() << " ms] hashed "
                << hashedMiB.load() << "/64 MiB, slow job at step " << slowStep.load() << "\n";
            out.flush();
        });
        ticker.start();

        out << "hashing 64 MiB and running a slow job on pool threads, a 400 ms timeout on the "
               "slow one\n";
        out.flush();
        QString digest;
        int steps = 0;
        co_await QAyo::scope([&](QAyo::Scope &run) -> QAyo::Task<> {
            auto hashing = run.aside(hashGenerated, 64, 0, &hashedMiB);
            // The slow job in a scope of its own with a timeout: when it fires, the stop token
            // is requested and the loop returns at its next check. (A thread cannot be killed:
            // the scope waits for the function to return.)
            auto slow = co_await QAyo::scope({ .timeout = 400ms }, [&](QAyo::Scope &limited) {
                limited.aside(slowSteps, &slowStep);
            });
            out << "slow job: " << (slow.timedOut ? "timed out, stopped" : "finished") << " after "
                << slowStep.load() << " of 100 steps\n";
            digest = co_await hashing;
            steps = slowStep.load();
        });
        out << "sha256 of the 64 MiB (first 16 hex digits): " << digest << " after "
            << clock.elapsed() << " ms\n";

        out << "four hash jobs on the executor 'hashers' (2 threads)\n";
        out.flush();
        QAyo::Executors::create(QStringLiteral("hashers"), 2);
        co_await QAyo::scope([](QAyo::Scope &run) -> QAyo::Task<> {
            QList<QAyo::Handle<QString>> jobs;
            for (int id = 1; id <= 4; ++id)
                jobs.append(run.asideIn(QStringLiteral("hashers"), executorJob, id, 16));
            for (const auto &job : jobs)
                out << "  " << co_await job << "\n";
        });
        QAyo::Executors::remove(QStringLiteral("hashers"));

        // Handles and schedules can be switched from any thread: a watchdog on a pool thread
        // cancels a task of this thread and stops a heartbeat, both by their handles. The cancel
        // and the unschedule take effect on this thread soon after.
        out << "a watchdog on a pool thread cancels a wait of this thread and stops its heartbeat\n";
        out.flush();
        int beats = 0;
        QAyo::Handle<void> wait;
        co_await QAyo::scope([&](QAyo::Scope &run) {
            wait = run.asap([]() -> QAyo::Task<> { co_await QAyo::sleep(1h); });
            auto heartbeat = run.every(20ms, [&beats] { ++beats; });
            run.aside([wait, heartbeat]() mutable {
                QThread::msleep(150);
                wait.cancel();
                heartbeat.unschedule();
            });
        }); // returns once both are switched off: the wait and the heartbeat held it
        out << "the hour-long wait was " << (wait.isCancelled() ? "cancelled" : "not cancelled")
            << " by the watchdog; the heartbeat " << (beats > 0 ? "beat until it was stopped" : "never beat")
            << "\n";
        ticker.stop();
        out << "at most " << mostAtOnce.load()
            << " jobs ran at once on 'hashers'; the timer ticked " << ticks
            << " times meanwhile (slow job: " << steps << " steps)\n";
        out.flush();
    });
}
