// SPDX-License-Identifier: MIT
// The plain QCoro baseline: eager QCoro::Task coroutines, dropped after the call (they run on
// detached) and counted as they end; the loop spins until the count reaches N. QCoro has no
// scope, no join and no cancellation, so this is the floor of "a coroutine per item", not the
// same contract. Its only ready-made loop hop is QCoro::sleepFor(0ms), a QTimer per call.
// cancel_sleeping has no QCoro baseline: a QCoro coroutine cannot be cancelled.
#include "bench.h"

#include <QCoreApplication>

#include <qcoro/qcorotask.h>
#include <qcoro/qcorotimer.h>

namespace {

using namespace std::chrono_literals;
using Bench::Clock;
using Bench::Nanoseconds;

Nanoseconds spawnJoin(int n)
{
    int done = 0;
    auto job = [&done]() -> QCoro::Task<> {
        ++done;
        co_return;
    };
    const auto start = Clock::now();
    for (int i = 0; i < n; ++i)
        job();
    Bench::spinUntil([&] { return done == n; }, "spawn_join/qcoro");
    return Clock::now() - start;
}

Nanoseconds spawnHopJoin(int n)
{
    int done = 0;
    auto job = [&done]() -> QCoro::Task<> {
        co_await QCoro::sleepFor(0ms);
        ++done;
    };
    const auto start = Clock::now();
    for (int i = 0; i < n; ++i)
        job();
    Bench::spinUntil([&] { return done == n; }, "spawn_hop_join/qcoro");
    return Clock::now() - start;
}

//! Ten worker coroutines take jobs from a shared counter; each job hops once.
Nanoseconds limit10(int n)
{
    int next = 0;
    int done = 0;
    auto job = [&done]() -> QCoro::Task<> {
        co_await QCoro::sleepFor(0ms);
        ++done;
    };
    auto worker = [&next, n, &job]() -> QCoro::Task<> {
        while (next < n) {
            ++next;
            co_await job();
        }
    };
    const auto start = Clock::now();
    for (int w = 0; w < 10; ++w)
        worker();
    Bench::spinUntil([&] { return done == n; }, "limit10/qcoro");
    return Clock::now() - start;
}

} // namespace

namespace Bench {

std::vector<Measurement> qcoroMeasurements()
{
    const QString impl = QStringLiteral("qcoro");
    return {
        { QStringLiteral("spawn_join"), impl, spawnJoin },
        { QStringLiteral("spawn_hop_join"), impl, spawnHopJoin },
        { QStringLiteral("limit10"), impl, limit10 },
    };
}

} // namespace Bench
