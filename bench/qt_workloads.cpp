// SPDX-License-Identifier: MIT
// The plain Qt baseline: one queued QMetaObject::invokeMethod call per item (what a Qt program
// without coroutines writes), counted as they run; the loop spins until the count reaches N.
// cancel_sleeping: N QTimers armed for an hour; measured: stopping and deleting them.
// timers_start_cancel: the same, measured from creating the first timer. every_jitter: a
// repeating Qt::PreciseTimer of 10 ms, lateness of each timeout against start + k * 10 ms.
#include "bench.h"

#include <QCoreApplication>
#include <QObject>
#include <QTimer>

#include <deque>
#include <memory>

namespace {

using namespace std::chrono_literals;
using Bench::Clock;
using Bench::Nanoseconds;

void post(QObject *context, std::function<void()> f)
{
    QMetaObject::invokeMethod(context, std::move(f), Qt::QueuedConnection);
}

Nanoseconds spawnJoin(int n)
{
    QObject context;
    int done = 0;
    const auto start = Clock::now();
    for (int i = 0; i < n; ++i)
        QMetaObject::invokeMethod(
            &context, [&done] { ++done; }, Qt::QueuedConnection);
    Bench::spinUntil([&] { return done == n; }, "spawn_join/qt");
    return Clock::now() - start;
}

Nanoseconds spawnHopJoin(int n)
{
    QObject context;
    int done = 0;
    const auto start = Clock::now();
    for (int i = 0; i < n; ++i) {
        QMetaObject::invokeMethod(
            &context,
            [&context, &done] {
                QMetaObject::invokeMethod(
                    &context, [&done] { ++done; }, Qt::QueuedConnection);
            },
            Qt::QueuedConnection);
    }
    Bench::spinUntil([&] { return done == n; }, "spawn_hop_join/qt");
    return Clock::now() - start;
}

Nanoseconds cancelSleeping(int n)
{
    std::vector<QTimer *> timers;
    timers.reserve(n);
    for (int i = 0; i < n; ++i) {
        auto *timer = new QTimer;
        timer->setSingleShot(true);
        timer->start(1h);
        timers.push_back(timer);
    }
    const auto start = Clock::now();
    for (QTimer *timer : timers) {
        timer->stop();
        delete timer;
    }
    return Clock::now() - start;
}

//! N QTimers created and started for an hour, then stopped and deleted; all of it measured.
Nanoseconds timersStartCancel(int n)
{
    std::vector<QTimer *> timers;
    timers.reserve(n);
    const auto start = Clock::now();
    for (int i = 0; i < n; ++i) {
        auto *timer = new QTimer;
        timer->setSingleShot(true);
        timer->start(1h);
        timers.push_back(timer);
    }
    for (QTimer *timer : timers) {
        timer->stop();
        delete timer;
    }
    return Clock::now() - start;
}

//! A repeating 10 ms Qt::PreciseTimer for n timeouts; lateness of each against start + k * 10 ms.
std::vector<Bench::Figure> everyJitter(int n)
{
    std::vector<Nanoseconds> lateness;
    lateness.reserve(n);
    QTimer timer;
    timer.setTimerType(Qt::PreciseTimer);
    timer.setInterval(10ms);
    Clock::time_point start;
    QObject::connect(&timer, &QTimer::timeout, [&] {
        const auto now = Clock::now();
        const int tick = int(lateness.size()) + 1;
        lateness.push_back(now - (start + tick * Nanoseconds(10ms)));
        if (int(lateness.size()) == n)
            timer.stop();
    });
    start = Clock::now();
    timer.start();
    Bench::spinUntil([&] { return int(lateness.size()) == n; }, "every_jitter/qt");
    return Bench::latenessFigures(QStringLiteral("every_jitter"), std::move(lateness));
}

//! A queue of stored jobs with at most 10 in flight; a job is two posted steps (start, hop).
Nanoseconds limit10(int n)
{
    QObject context;
    std::deque<std::function<void()>> queue;
    int inFlight = 0;
    int peak = 0;
    int done = 0;
    std::function<void()> startMore = [&] {
        while (inFlight < 10 && !queue.empty()) {
            peak = std::max(peak, ++inFlight);
            post(&context, std::move(queue.front()));
            queue.pop_front();
        }
    };
    auto finishOne = [&] {
        --inFlight;
        ++done;
        startMore();
    };
    const auto start = Clock::now();
    for (int i = 0; i < n; ++i)
        queue.push_back([&context, &finishOne] { post(&context, finishOne); });
    startMore();
    Bench::spinUntil([&] { return done == n; }, "limit10/qt");
    const auto elapsed = Clock::now() - start;
    Bench::check(peak == std::min(n, 10), QStringLiteral("limit10/qt: peak %1").arg(peak));
    return elapsed;
}

} // namespace

namespace Bench {

std::vector<Measurement> qtMeasurements()
{
    const QString impl = QStringLiteral("qt");
    return {
        { QStringLiteral("spawn_join"), impl, spawnJoin },
        { QStringLiteral("spawn_hop_join"), impl, spawnHopJoin },
        { QStringLiteral("cancel_sleeping"), impl, cancelSleeping },
        { QStringLiteral("limit10"), impl, limit10 },
        { QStringLiteral("timers_start_cancel"), impl, timersStartCancel },
        { QStringLiteral("every_jitter"), impl, {}, everyJitter, 200 },
    };
}

} // namespace Bench
