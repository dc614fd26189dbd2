// SPDX-License-Identifier: MIT
// The QAyo side: every workload goes through the public API a user calls (Scope::asap with a
// callable, co_await scope, QAyo::checkpoint, QAyo::sleep, Scope::cancel). Each repetition is a
// driver task run by QAyo::Test::run; the driver takes the time around the part measured, so the
// cost of driving the loop from outside is not counted.
#include "bench.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

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

//! N tasks asleep for an hour; measured: scope.cancel() until the join returns.
QAyo::Task<Nanoseconds> cancelSleeping(int n)
{
    int asleep = 0;
    int unwound = 0;
    auto job = [&asleep, &unwound]() -> QAyo::Task<> {
        UnwindCounter counter { &unwound };
        ++asleep;
        co_await QAyo::sleep(1h);
    };
    Nanoseconds elapsed {};
    {
        QAyo::Scope scope;
        for (int i = 0; i < n; ++i)
            scope.asap(job);
        // Tasks start on a later turn and run straight into their sleep.
        while (asleep < n)
            co_await QAyo::checkpoint();
        Bench::check(scope.runningCount() == n && QAyo::Clock::pendingDeadlines() >= n,
                     QStringLiteral("cancel_sleeping/qayo: not every task is asleep"));

        const auto start = Clock::now();
        scope.cancel();
        co_await scope;
        elapsed = Clock::now() - start;
    }
    Bench::check(
        unwound == n,
        QStringLiteral("cancel_sleeping/qayo: %1 of %2 tasks unwound").arg(unwound).arg(n));
    co_return elapsed;
}

//! N lazy jobs through a scope that runs at most 10 at a time; each yields one loop turn.
QAyo::Task<Nanoseconds> limit10(int n)
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
        QAyo::Scope scope({ .maxConcurrency = 10 });
        for (int i = 0; i < n; ++i)
            scope.asap(job);
        co_await scope;
    }
    const auto elapsed = Clock::now() - start;
    Bench::check(done == n && peak == std::min(n, 10),
                 QStringLiteral("limit10/qayo: %1 of %2 ran, peak %3").arg(done).arg(n).arg(peak));
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
    };
}

} // namespace Bench
