// SPDX-License-Identifier: MIT
// The QAyo side: every workload goes through the public API a user calls (Scope::asap with a
// callable, co_await scope, QAyo::checkpoint, QAyo::sleep, Scope::after/every, Scope::cancel).
// Each repetition is a driver task run by QAyo::Test::run; the driver takes the time around the
// part measured, so the cost of driving the loop from outside is not counted.
#include "bench.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <atomic>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Bench::Clock;
using Bench::Nanoseconds;

Nanoseconds runDriver(QAyo::Task<Nanoseconds> driver)
{
    return QAyo::Test::run(std::move(driver), std::chrono::minutes(2));
}

//! N trivial tasks spawned lazily into a scope, then joined.
QAyo::Task<Nanoseconds> spawnJoin(int n)
{
    int done = 0;
    auto job = [&done]() -> QAyo::Task<> {
        ++done;
        co_return;
    };
    const auto start = Clock::now();
    {
        QAyo::Scope scope;
        for (int i = 0; i < n; ++i)
            scope.asap(job);
        co_await scope;
    }
    const auto elapsed = Clock::now() - start;
    Bench::check(done == n, QStringLiteral("spawn_join/qayo: %1 of %2 tasks ran").arg(done).arg(n));
    co_return elapsed;
}

//! The same, each task yielding one loop turn before it ends.
QAyo::Task<Nanoseconds> spawnHopJoin(int n)
{
    int done = 0;
    auto job = [&done]() -> QAyo::Task<> {
        co_await QAyo::checkpoint();
        ++done;
    };
    const auto start = Clock::now();
    {
        QAyo::Scope scope;
        for (int i = 0; i < n; ++i)
            scope.asap(job);
        co_await scope;
    }
    const auto elapsed = Clock::now() - start;
    Bench::check(done == n,
                 QStringLiteral("spawn_hop_join/qayo: %1 of %2 tasks ran").arg(done).arg(n));
    co_return elapsed;
}

//! Counts frames unwound by cancellation (cleanup code a real task would have).
struct UnwindCounter
{
    int *count;
    ~UnwindCounter() { ++*count; }
};

//! N tasks spawned into QAyo::sleep(1h), then cancelled, timed until the join returns: from
//! the first spawn with \a fromFirstSpawn (spawn, start, arm, cancel, unwind), otherwise from
//! scope.cancel() (cancel and unwind only). \a workload names the measurement in a failed check.
QAyo::Task<Nanoseconds> sleepersCancelled(int n, bool fromFirstSpawn, const char *workload)
{
    int asleep = 0;
    int unwound = 0;
    auto job = [&asleep, &unwound]() -> QAyo::Task<> {
        UnwindCounter counter { &unwound };
        ++asleep;
        co_await QAyo::sleep(1h);
    };
    auto start = Clock::now();
    Nanoseconds elapsed {};
    {
        QAyo::Scope scope;
        for (int i = 0; i < n; ++i)
            scope.asap(job);
        // Tasks start on a later turn and run straight into their sleep.
        while (asleep < n)
            co_await QAyo::checkpoint();
        Bench::check(scope.runningCount() == n && QAyo::Clock::pendingDeadlines() >= n,
                     QStringLiteral("%1/qayo: not every task is asleep").arg(QLatin1String(workload)));
        if (!fromFirstSpawn)
            start = Clock::now();
        scope.cancel();
        co_await scope;
        elapsed = Clock::now() - start;
    }
    Bench::check(unwound == n, QStringLiteral("%1/qayo: %2 of %3 tasks unwound")
                                   .arg(QLatin1String(workload)).arg(unwound).arg(n));
    co_return elapsed;
}

//! N tasks asleep for an hour; measured: scope.cancel() until the join returns.
QAyo::Task<Nanoseconds> cancelSleeping(int n)
{
    return sleepersCancelled(n, false, "cancel_sleeping");
}

//! N lazy jobs through a scope made with \a options, which let at most 10 run at a time; each
//! yields one loop turn. \a workload names the measurement in a failed check.
QAyo::Task<Nanoseconds> tenAtATime(int n, QAyo::ScopeOptions options, const char *workload)
{
    int done = 0;
    int live = 0;
    int peak = 0;
    auto job = [&done, &live, &peak]() -> QAyo::Task<> {
        peak = std::max(peak, ++live);
        co_await QAyo::checkpoint();
        --live;
        ++done;
    };
    const auto start = Clock::now();
    {
        QAyo::Scope scope(options);
        for (int i = 0; i < n; ++i)
            scope.asap(job);
        co_await scope;
    }
    const auto elapsed = Clock::now() - start;
    Bench::check(done == n && peak == std::min(n, 10),
                 QStringLiteral("%1/qayo: %2 of %3 ran, peak %4").arg(QLatin1String(workload)).arg(done).arg(n).arg(peak));
    co_return elapsed;
}

//! The limit of 10 from maxConcurrency.
QAyo::Task<Nanoseconds> limit10(int n)
{
    return tenAtATime(n, { .maxConcurrency = 10 }, "limit10");
}

//! The limit of 10 from a shared QAyo::Limiter as the scope's limiter: every task waits for its
//! slot as a ticket and gives it back when it ends.
QAyo::Task<Nanoseconds> limiter10(int n, QAyo::Limiter *limiter)
{
    return tenAtATime(n, { .limiter = limiter }, "limiter10");
}

//! Where withdraw_queued's spawns wait, and in which order they are cancelled.
enum class Withdrawal { LimiterOldestFirst, LimiterNewestFirst, ScopeQueueNewestFirst };

//! N spawns queued for one slot held by the driver - a QAyo::Limiter(1)'s, or the only slot of a
//! Scope({.maxConcurrency = 1}) - then all cancelled: by scope.cancel() (oldest first) or by
//! handle.cancel() newest first. Measured: from the cancel until the join returns. Withdrawing
//! from the middle or the back of a queue must not cost a search of it.
QAyo::Task<Nanoseconds> withdrawQueued(int n, Withdrawal how)
{
    const bool scopeQueue = how == Withdrawal::ScopeQueueNewestFirst;
    QAyo::Limiter limiter(1);
    QAyo::LimiterToken held = limiter.tryAcquire();
    bool release = false;
    int ran = 0;
    auto job = [&ran]() -> QAyo::Task<> {
        ++ran;
        co_return;
    };
    Nanoseconds elapsed {};
    {
        QAyo::Scope scope(scopeQueue ? QAyo::ScopeOptions { .maxConcurrency = 1 }
                                     : QAyo::ScopeOptions { .limiter = &limiter });
        if (scopeQueue)
            scope.asap([&release]() -> QAyo::Task<> {
                while (!release)
                    co_await QAyo::checkpoint();
            });
        std::vector<QAyo::Handle<void>> handles;
        handles.reserve(std::size_t(n));
        for (int i = 0; i < n; ++i)
            handles.push_back(scope.asap(job));
        while (!scopeQueue && limiter.waitingCount() < n)
            co_await QAyo::checkpoint();
        const auto start = Clock::now();
        if (how == Withdrawal::LimiterOldestFirst) {
            scope.cancel();
        } else {
            for (auto handle = handles.rbegin(); handle != handles.rend(); ++handle)
                handle->cancel();
            release = true;
        }
        co_await scope;
        elapsed = Clock::now() - start;
    }
    Bench::check(ran == 0 && limiter.waitingCount() == 0,
                 QStringLiteral("withdraw_queued/qayo: %1 ran, %2 still waiting").arg(ran).arg(limiter.waitingCount()));
    co_return elapsed;
}

//! N tasks started into QAyo::sleep(1h), then cancelled. Measured: from the first spawn until
//! the join returns (spawn, start, arm the deadline, cancel, unwind).
QAyo::Task<Nanoseconds> timersStartCancel(int n)
{
    return sleepersCancelled(n, true, "timers_start_cancel");
}

//! The same timers without a task each: N Scope::after(1h, f), then scope.cancel() and the join.
QAyo::Task<Nanoseconds> timersStartCancelAfter(int n)
{
    int called = 0;
    const auto start = Clock::now();
    {
        QAyo::Scope scope;
        for (int i = 0; i < n; ++i)
            scope.after(1h, [&called] { ++called; });
        Bench::check(QAyo::Clock::pendingDeadlines() >= n,
                     QStringLiteral("timers_start_cancel/qayo-after: not every timer is armed"));
        scope.cancel();
        co_await scope;
    }
    const auto elapsed = Clock::now() - start;
    Bench::check(called == 0 && QAyo::Clock::pendingDeadlines() == 0,
                 QStringLiteral("timers_start_cancel/qayo-after: a timer fired or stayed armed"));
    co_return elapsed;
}

//! every(10ms) for n ticks on the real clock: how late each call starts against the grid
//! start + k * 10 ms (a tick skipped because the loop was late still counts in k).
std::vector<Bench::Figure> everyJitter(int n)
{
    std::vector<Nanoseconds> lateness;
    lateness.reserve(n);
    auto driver = [&lateness, n]() -> QAyo::Task<> {
        QAyo::Scope scope;
        QAyo::Scheduled ticks;
        const auto start = Clock::now();
        ticks = scope.every(10ms, [&] {
            const auto now = Clock::now();
            const int tick = int(lateness.size()) + 1 + ticks.skippedTicks();
            lateness.push_back(now - (start + tick * Nanoseconds(10ms)));
            if (int(lateness.size()) == n)
                ticks.unschedule();
        });
        co_await scope;
    };
    QAyo::Test::run(driver(), std::chrono::minutes(2));
    Bench::check(int(lateness.size()) == n, QStringLiteral("every_jitter/qayo: too few ticks"));
    return Bench::latenessFigures(QStringLiteral("every_jitter"), std::move(lateness));
}

//! N trivial jobs on the global thread pool through Scope::aside, joined.
QAyo::Task<Nanoseconds> asideJoin(int n)
{
    std::atomic<int> done { 0 };
    auto job = [&done] { done.fetch_add(1, std::memory_order_relaxed); };
    const auto start = Clock::now();
    {
        QAyo::Scope scope;
        for (int i = 0; i < n; ++i)
            scope.aside(job);
        co_await scope;
    }
    const auto elapsed = Clock::now() - start;
    Bench::check(done.load() == n,
                 QStringLiteral("aside_join/qayo: %1 of %2 jobs ran").arg(done.load()).arg(n));
    co_return elapsed;
}

} // namespace

namespace Bench {

std::vector<Measurement> qayoMeasurements()
{
    const QString impl = QStringLiteral("qayo");
    return {
        { QStringLiteral("spawn_join"), impl, [](int n) { return runDriver(spawnJoin(n)); } },
        { QStringLiteral("spawn_hop_join"), impl,
          [](int n) { return runDriver(spawnHopJoin(n)); } },
        { QStringLiteral("cancel_sleeping"), impl,
          [](int n) { return runDriver(cancelSleeping(n)); } },
        { QStringLiteral("limit10"), impl, [](int n) { return runDriver(limit10(n)); } },
        { QStringLiteral("limiter10"), impl,
          [](int n) {
              QAyo::Limiter limiter(10);
              return runDriver(limiter10(n, &limiter));
          } },
        { QStringLiteral("withdraw_queued"), impl,
          [](int n) { return runDriver(withdrawQueued(n, Withdrawal::LimiterOldestFirst)); } },
        { QStringLiteral("withdraw_queued"), QStringLiteral("qayo-newest-first"),
          [](int n) { return runDriver(withdrawQueued(n, Withdrawal::LimiterNewestFirst)); } },
        { QStringLiteral("withdraw_queued"), QStringLiteral("qayo-scope-queue"),
          [](int n) { return runDriver(withdrawQueued(n, Withdrawal::ScopeQueueNewestFirst)); } },
        { QStringLiteral("timers_start_cancel"), impl,
          [](int n) { return runDriver(timersStartCancel(n)); } },
        { QStringLiteral("timers_start_cancel"), QStringLiteral("qayo-after"),
          [](int n) { return runDriver(timersStartCancelAfter(n)); } },
        { QStringLiteral("every_jitter"), impl, {}, everyJitter, 200 },
        { QStringLiteral("aside_join"), impl, [](int n) { return runDriver(asideJoin(n)); } },
    };
}

} // namespace Bench
