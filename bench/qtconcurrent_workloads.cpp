// SPDX-License-Identifier: MIT
// The Qt Concurrent baseline for blocking work on a thread pool: N QtConcurrent::run calls on
// QThreadPool::globalInstance(), their futures in a QFutureSynchronizer, then
// waitForFinished() (what a Qt program without coroutines writes to run jobs and wait for all).
#include "bench.h"

#include <QFutureSynchronizer>
#include <QtConcurrent/QtConcurrentRun>

#include <atomic>

namespace {

using Bench::Clock;
using Bench::Nanoseconds;

//! N trivial jobs on the global pool, joined.
Nanoseconds asideJoin(int n)
{
    std::atomic<int> done { 0 };
    const auto start = Clock::now();
    {
        QFutureSynchronizer<void> synchronizer;
        for (int i = 0; i < n; ++i)
            synchronizer.addFuture(
                QtConcurrent::run([&done] { done.fetch_add(1, std::memory_order_relaxed); }));
        synchronizer.waitForFinished();
    }
    const auto elapsed = Clock::now() - start;
    Bench::check(
        done.load() == n,
        QStringLiteral("aside_join/qtconcurrent: %1 of %2 jobs ran").arg(done.load()).arg(n));
    return elapsed;
}

} // namespace

namespace Bench {

std::vector<Measurement> qtConcurrentMeasurements()
{
    return {
        { QStringLiteral("aside_join"), QStringLiteral("qtconcurrent"), asideJoin },
    };
}

} // namespace Bench
