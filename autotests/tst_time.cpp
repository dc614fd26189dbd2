// SPDX-License-Identifier: MIT
// Time: after/at/every (order, counts, drift-free, no overlap, hold-exit, unschedule/cancel,
// errors, at and the wall clock, handles outliving their scope, bad input), QAyo::sleep and scope
// timeouts under QAyo::Test::VirtualClock, the clock's own misuse - and one real-clock check.
//
// Everything but the last test runs on the virtual clock: simulated hours take milliseconds and
// the expected times are exact.
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QRegularExpression>
#include <QTest>
#include <QThread>

#include <algorithm>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

using namespace std::chrono_literals;
using namespace TestHelpers;

namespace {

using VirtualClock = QAyo::Test::VirtualClock;
using Duration = QAyo::Clock::Duration;
//! A misuse of after/at/every on a scope (data-driven bad input).
using ScheduleMisuse = std::function<void(QAyo::Scope &)>;

//! Minutes since the clock was created, for readable logs.
qint64 minutesOn(const VirtualClock &clock)
{
    return std::chrono::duration_cast<std::chrono::minutes>(clock.elapsed()).count();
}

//! A clock whose wall time the test can move independently of its steady time, as when the
//! system time is changed (NTP, the user, a suspended laptop). VirtualClock moves both together.
class SteerableClock final : public QAyo::Clock
{
public:
    SteerableClock()
        : m_now(std::chrono::steady_clock::now())
        , m_start(m_now)
        , m_system(std::chrono::system_clock::now())
    {
        QAyo::Clock::install(this);
    }
    ~SteerableClock() override { QAyo::Clock::install(nullptr); }

    TimePoint now() const override { return m_now; }
    std::chrono::system_clock::time_point systemNow() const override { return m_system; }
    Duration elapsed() const { return m_now - m_start; }

    //! Changes the wall clock only (the steady time line does not move).
    void setSystemTimeBy(Duration offset)
    {
        m_system += std::chrono::duration_cast<std::chrono::system_clock::duration>(offset);
    }

    //! Moves both time lines forward by \a duration, deadline by deadline, letting the woken
    //! work run at each step.
    void advance(Duration duration)
    {
        const TimePoint target = m_now + duration;
        drain();
        for (;;) {
            const TimePoint next = QAyo::Clock::nextDeadline();
            if (next > target)
                break;
            moveTo(std::max(next, m_now));
            processDueDeadlines();
            drain();
        }
        moveTo(target);
    }

protected:
    void wakeUpAt(TimePoint) override { } // time moves only in advance()

private:
    void moveTo(TimePoint time)
    {
        m_system += std::chrono::duration_cast<std::chrono::system_clock::duration>(time - m_now);
        m_now = time;
    }
    //! Lets work queued on this thread run (spawned calls start on a later loop turn).
    static void drain()
    {
        for (int round = 0; round < 10; ++round)
            QCoreApplication::processEvents();
    }

    TimePoint m_now;
    TimePoint m_start;
    std::chrono::system_clock::time_point m_system;
};

} // namespace

Q_DECLARE_METATYPE(ScheduleMisuse)

class TimeTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    // --- order and counts -------------------------------------------------------------------

    void afterAtAndEveryFireInTimeOrderOverSimulatedHours()
    {
        VirtualClock clock;
        clock.install();
        QAyo::Scope scope;
        QStringList log;
        auto note = [&] {
            return [&](const QString &what, int number) {
                log << QStringLiteral("%1 %2 @%3min").arg(what).arg(number).arg(minutesOn(clock));
            };
        };
        // Arguments are stored with the callable (ayo's run.after(2, callback, foo, bar=1)).
        auto hourly = scope.every(1h, note(), QStringLiteral("every"), 1);
        auto once = scope.after(90min, note(), QStringLiteral("after"), 2);
        auto wall = scope.at(clock.systemNow() + 150min, note(), QStringLiteral("at"), 3);
        QVERIFY(hourly.isActive() && once.isActive() && wall.isActive());
        QCOMPARE(hourly.nextDue(), std::optional(clock.now() + 1h));
        QCOMPARE(once.nextDue(), std::optional(clock.now() + 90min));

        clock.advance(5h);
        const QStringList expected
            = { QStringLiteral("every 1 @60min"),  QStringLiteral("after 2 @90min"),
                QStringLiteral("every 1 @120min"), QStringLiteral("at 3 @150min"),
                QStringLiteral("every 1 @180min"), QStringLiteral("every 1 @240min"),
                QStringLiteral("every 1 @300min") };
        QCOMPARE(log, expected);
        QVERIFY(!once.isActive());
        QVERIFY(!wall.isActive());
        QVERIFY(hourly.isActive());
        QCOMPARE(hourly.nextDue(), std::optional(clock.now() + 1h));
        QCOMPARE(hourly.skippedTicks(), 0);

        hourly.unschedule();
        QAYO_TEST_JOIN(scope);
        QCOMPARE(log.size(), expected.size());
    }

    void everyCallsExactlyOncePerIntervalForThreeSimulatedHours()
    {
        VirtualClock clock;
        clock.install();
        QAyo::Scope scope;
        int calls = 0;
        int mistimed = 0;
        auto ticks = scope.every(1s, [&] {
            ++calls;
            if (clock.elapsed() != calls * Duration(1s))
                ++mistimed;
        });
        QElapsedTimer realTime;
        realTime.start();
        clock.advance(3h);
        QCOMPARE(calls, 3 * 3600);
        QCOMPARE(mistimed, 0);
        QCOMPARE(ticks.skippedTicks(), 0);
        QCOMPARE(ticks.nextDue(), std::optional(clock.now() + 1s));
        // Three hours of simulated time; generous bound so a loaded or sanitized run passes.
        QVERIFY2(realTime.elapsed() < 5000, qPrintable(QString::number(realTime.elapsed())));
        ticks.unschedule();
        QAYO_TEST_JOIN(scope);
    }

    void everyUnderAutoJumpRunsSimulatedHoursInMilliseconds()
    {
        VirtualClock clock(VirtualClock::Mode::AutoJump);
        clock.install();
        int calls = 0;
        Duration joinedAt {};
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            auto minutely = scope.every(1min, [&] { ++calls; });
            scope.after(3h + 30s, [minutely]() mutable { minutely.unschedule(); });
            co_await scope; // held by the every until the after() unschedules it
            joinedAt = clock.elapsed();
        };
        QElapsedTimer realTime;
        realTime.start();
        QAYO_TEST_RUN(body());
        QCOMPARE(calls, 180);
        QCOMPARE(joinedAt, Duration(3h + 30s));
        QVERIFY2(realTime.elapsed() < 5000, qPrintable(QString::number(realTime.elapsed())));
    }

    // --- drift-free, no overlap ------------------------------------------------------------

    void everyIsDriftFreeWhenEachCallTakesTime()
    {
        VirtualClock clock;
        clock.install();
        QAyo::Scope scope;
        QList<qint64> startedAtMs;
        QList<qint64> endedAtMs;
        auto msOf = [&clock] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(clock.elapsed()).count();
        };
        auto ticks = scope.every(1s, [&]() -> QAyo::Task<> {
            startedAtMs << msOf();
            co_await QAyo::sleep(400ms); // the call takes 40% of the interval
            endedAtMs << msOf();
        });
        clock.advance(10s);
        // Ticks are planned from the first due time, not from the end of the previous call.
        QCOMPARE(startedAtMs,
                 (QList<qint64> { 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000 }));
        QCOMPARE(endedAtMs,
                 (QList<qint64> { 1400, 2400, 3400, 4400, 5400, 6400, 7400, 8400, 9400 }));
        QCOMPARE(ticks.skippedTicks(), 0);
        ticks.unschedule(); // the 10th call is still running: the join waits for it
        clock.advance(400ms);
        QCOMPARE(endedAtMs.size(), 10);
        QAYO_TEST_JOIN(scope);
    }

    void slowAsyncCallbackSkipsTicksAndCountsThem()
    {
        VirtualClock clock;
        clock.install();
        QAyo::Scope scope;
        QList<qint64> startedAtMs;
        int running = 0;
        int mostAtOnce = 0;
        auto ticks = scope.every(1s, [&]() -> QAyo::Task<> {
            startedAtMs
                << std::chrono::duration_cast<std::chrono::milliseconds>(clock.elapsed()).count();
            const LiveCounter call(&running); // counts until the call ends, also when cancelled
            mostAtOnce = std::max(mostAtOnce, running);
            co_await QAyo::sleep(2500ms); // longer than two intervals
        });
        clock.advance(10s);
        // Calls at 1 s (runs to 3.5 s), 4 s (to 6.5 s), 7 s (to 9.5 s), 10 s; the ticks at 2, 3,
        // 5, 6, 8 and 9 s came while a call still ran.
        QCOMPARE(startedAtMs, (QList<qint64> { 1000, 4000, 7000, 10000 }));
        QCOMPARE(mostAtOnce, 1);
        QCOMPARE(ticks.skippedTicks(), 6);
        QCOMPARE(ticks.nextDue(), std::optional(clock.now() + 1s)); // still on the 1 s grid
        ticks.cancel();
        QAYO_TEST_JOIN(scope);
        QCOMPARE(running, 0);
    }

    // --- holding the scope's exit ----------------------------------------------------------

    void recurringEveryHoldsTheJoinUntilUnscheduledOrCancelled_data()
    {
        QTest::addColumn<bool>("cancel");
        QTest::newRow("unschedule()") << false;
        QTest::newRow("cancel()") << true;
    }

    void recurringEveryHoldsTheJoinUntilUnscheduledOrCancelled()
    {
        QFETCH(bool, cancel);
        VirtualClock clock;
        clock.install();
        QAyo::Scope scope;
        int calls = 0;
        auto minutely = scope.every(1min, [&] { ++calls; });
        QVERIFY(minutely.holdsExit());
        QAyo::Scope joiner;
        auto joined = joiner.asap([&scope]() -> QAyo::Task<> { co_await scope; });
        clock.advance(3h);
        QCOMPARE(calls, 180);
        QVERIFY(!joined.isFinished());
        QVERIFY(scope.isActive());

        if (cancel)
            minutely.cancel();
        else
            minutely.unschedule();
        QVERIFY(!minutely.isActive());
        QVERIFY(!minutely.holdsExit());
        QVERIFY(spinUntil([&] { return joined.isFinished(); }));
        QVERIFY_THROWS_NO_EXCEPTION(joined.result());
        QVERIFY(!scope.isCancelled());
        clock.advance(1h);
        QCOMPARE(calls, 180);
    }

    void dontHoldExitLetsTheJoinReturnWhileAnEveryIsActive()
    {
        VirtualClock clock;
        clock.install();
        QAyo::Scope scope;
        int ticks = 0;
        auto every = scope.every(1s, [&] { ++ticks; }).dontHoldExit();
        QVERIFY(every.isActive());
        QVERIFY(!every.holdsExit());
        scope.asap([]() -> QAyo::Task<> { co_await QAyo::sleep(3500ms); });
        int ticksAtJoin = -1;
        Duration joinedAt {};
        QAyo::Scope joiner;
        joiner.asap([&]() -> QAyo::Task<> {
            co_await scope;
            ticksAtJoin = ticks;
            joinedAt = clock.elapsed();
        });
        clock.advance(3s);
        QCOMPARE(ticks, 3);
        QVERIFY(every.isActive());
        QCOMPARE(ticksAtJoin, -1); // the sleeping task still holds the join

        clock.advance(2s);
        QCOMPARE(joinedAt, Duration(3500ms)); // the task ended; the every did not hold the join
        QCOMPARE(ticksAtJoin, 3);
        QCOMPARE(ticks, 3); // a finished scope makes no more calls
    }

    void afterThatDoesNotHoldExitDoesNotDelayTheJoin()
    {
        VirtualClock clock(VirtualClock::Mode::AutoJump);
        clock.install();
        bool called = false;
        Duration joinedAt {};
        QAyo::Scheduled farAway;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            farAway = scope.after(10h, [&] { called = true; }).dontHoldExit();
            scope.asap([]() -> QAyo::Task<> { co_await QAyo::sleep(1s); });
            co_await scope;
            joinedAt = clock.elapsed();
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(joinedAt, Duration(1s)); // autojump would have jumped to 10 h had it held
        QVERIFY(!called);
        QVERIFY(!farAway.isActive()); // its scope is gone
    }

    void schedulesThatDoNotHoldExitEndWhenTheScopeFinishes()
    {
        // After the join the scope is closed: a dontHoldExit() schedule has no call left to
        // make, so it must not stay armed (waking the thread every interval for nothing).
        VirtualClock clock;
        clock.install();
        QAyo::Scope scope;
        int calls = 0;
        auto every = scope.every(1s, [&] { ++calls; }).dontHoldExit();
        auto after = scope.after(1h, [&] { ++calls; }).dontHoldExit();
        clock.advance(2s);
        QCOMPARE(calls, 2);
        QAYO_TEST_JOIN(scope);
        QVERIFY(scope.isFinished());
        QCOMPARE(every.isActive(), false);
        QCOMPARE(every.nextDue(), std::nullopt);
        QCOMPARE(after.isActive(), false);
        QCOMPARE(QAyo::Clock::pendingDeadlines(), 0);
        clock.advance(2h);
        QCOMPARE(calls, 2);
    }

    // --- unschedule and cancel -------------------------------------------------------------

    void unscheduleFromInsideTheCallbackStopsLaterCalls_data()
    {
        QTest::addColumn<bool>("async");
        QTest::newRow("plain callback") << false;
        QTest::newRow("async callback") << true;
    }

    void unscheduleFromInsideTheCallbackStopsLaterCalls()
    {
        QFETCH(bool, async);
        VirtualClock clock;
        clock.install();
        QAyo::Scope scope;
        int calls = 0;
        int completed = 0;
        QAyo::Scheduled ticks;
        if (async) {
            ticks = scope.every(1s, [&]() -> QAyo::Task<> {
                co_await QAyo::sleep(100ms);
                if (++calls == 3)
                    ticks.unschedule();
                co_await QAyo::sleep(100ms); // the call that unscheduled goes on
                ++completed;
            });
        } else {
            ticks = scope.every(1s, [&] {
                if (++calls == 3)
                    ticks.unschedule();
                ++completed;
            });
        }
        clock.advance(10s);
        QCOMPARE(calls, 3);
        QCOMPARE(completed, 3);
        QVERIFY(!ticks.isActive());
        QCOMPARE(ticks.nextDue(), std::nullopt);
        QAYO_TEST_JOIN(scope);
    }

    void unscheduleLetsTheRunningCallFinishCancelStopsIt_data()
    {
        QTest::addColumn<bool>("cancel");
        QTest::newRow("unschedule()") << false;
        QTest::newRow("cancel()") << true;
    }

    void unscheduleLetsTheRunningCallFinishCancelStopsIt()
    {
        QFETCH(bool, cancel);
        VirtualClock clock;
        clock.install();
        QAyo::Scope scope;
        int started = 0;
        int finished = 0;
        int cancelled = 0;
        auto ticks = scope.every(1s, [&]() -> QAyo::Task<> {
            ++started;
            try {
                co_await QAyo::sleep(500ms);
            } catch (const QAyo::Cancelled &) {
                ++cancelled;
                throw;
            }
            ++finished;
        });
        clock.advance(1200ms); // the first call sleeps until 1.5 s
        QCOMPARE(started, 1);
        if (cancel)
            ticks.cancel();
        else
            ticks.unschedule();
        QVERIFY(!ticks.isActive());
        clock.advance(5s);
        QVERIFY(spinUntil([&] { return finished + cancelled == 1; }));
        QCOMPARE(started, 1);
        QCOMPARE(finished, cancel ? 0 : 1);
        QCOMPARE(cancelled, cancel ? 1 : 0);
        QVERIFY(!scope.isCancelled()); // only the call was cancelled, not its scope
        QAYO_TEST_JOIN(scope);
        QVERIFY(scope.errors().isEmpty());
    }

    void cancellingTheScopeStopsItsSchedules()
    {
        VirtualClock clock;
        clock.install();
        QAyo::Scope scope;
        int calls = 0;
        bool callCancelled = false;
        auto ticks = scope.every(1s, [&]() -> QAyo::Task<> {
            ++calls;
            co_await sleepForever(&callCancelled);
        });
        bool laterCalled = false;
        auto later = scope.after(1h, [&] { laterCalled = true; });
        auto wall = scope.at(clock.systemNow() + 2h, [&] { laterCalled = true; });
        clock.advance(1500ms);
        QCOMPARE(calls, 1);

        scope.cancel();
        QVERIFY(!ticks.isActive());
        QVERIFY(!later.isActive());
        QVERIFY(!wall.isActive());
        QVERIFY(spinUntil([&] { return callCancelled; }));
        clock.advance(3h);
        QCOMPARE(calls, 1);
        QVERIFY(!laterCalled);
        QAYO_TEST_JOIN(scope);
    }

    void scheduledHandleOutlivesItsScope()
    {
        VirtualClock clock;
        clock.install();
        int calls = 0;
        QAyo::Scheduled ticks;
        QAyo::Scheduled later;
        {
            QAyo::Scope scope;
            ticks = scope.every(1s, [&] { ++calls; });
            later = scope.after(1h, [&] { ++calls; });
            clock.advance(2s);
        }
        QCOMPARE(calls, 2);
        const QAyo::Scheduled copy = ticks;
        for (const QAyo::Scheduled &handle : { ticks, copy, later }) {
            QVERIFY(!handle.isActive());
            QVERIFY(!handle.holdsExit());
            QCOMPARE(handle.nextDue(), std::nullopt);
            QCOMPARE(handle.skippedTicks(), 0);
        }
        ticks.unschedule(); // all harmless
        ticks.cancel();
        ticks.dontHoldExit();
        later.cancel();
        QCOMPARE(QAyo::Clock::pendingDeadlines(), 0);
        clock.advance(2h);
        QCOMPARE(calls, 2);

        QAyo::Scheduled invalid; // a default handle is inert too
        invalid.unschedule();
        invalid.cancel();
        invalid.dontHoldExit();
        QVERIFY(!invalid.isActive());
        QCOMPARE(invalid.nextDue(), std::nullopt);
    }

    // --- errors ------------------------------------------------------------------------------

    void errorInACallbackCancelsSiblingsAndIsRethrownByTheJoin_data()
    {
        QTest::addColumn<bool>("async");
        QTest::newRow("plain callback") << false;
        QTest::newRow("async callback") << true;
    }

    void errorInACallbackCancelsSiblingsAndIsRethrownByTheJoin()
    {
        QFETCH(bool, async);
        VirtualClock clock(VirtualClock::Mode::AutoJump);
        clock.install();
        bool siblingCancelled = false;
        bool laterCalled = false;
        int calls = 0;
        Duration failedAt {};
        Duration joinedAt {};
        QString message;
        bool joinReturned = false;
        int errorCount = -1;
        QAyo::Scheduled ticks;
        QAyo::Scheduled later;
        auto fail = [&] {
            failedAt = clock.elapsed();
            throw std::runtime_error("tick 3 failed");
        };
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            scope.asap(sleepForever(&siblingCancelled));
            later = scope.after(10h, [&] { laterCalled = true; });
            if (async) {
                ticks = scope.every(1s, [&]() -> QAyo::Task<> {
                    co_await QAyo::sleep(100ms);
                    if (++calls == 3)
                        fail();
                });
            } else {
                ticks = scope.every(1s, [&] {
                    if (++calls == 3)
                        fail();
                });
            }
            try {
                co_await scope;
                joinReturned = true;
            } catch (const std::runtime_error &e) {
                message = QString::fromUtf8(e.what());
            }
            joinedAt = clock.elapsed();
            errorCount = int(scope.errors().size());
        };
        QAYO_TEST_RUN(body());
        QVERIFY(!joinReturned);
        QCOMPARE(message, QStringLiteral("tick 3 failed"));
        QCOMPARE(failedAt, async ? Duration(3100ms) : Duration(3s));
        QCOMPARE(joinedAt, failedAt); // siblings were cancelled at once, not waited for
        QVERIFY(siblingCancelled);
        QCOMPARE(calls, 3);
        QVERIFY(!ticks.isActive());
        QVERIFY(!later.isActive());
        QVERIFY(!laterCalled);
        QCOMPARE(errorCount, 1);
    }

    // --- at and the wall clock -------------------------------------------------------------

    void atInThePastRunsAsSoonAsPossible_data()
    {
        QTest::addColumn<bool>("asDateTime");
        QTest::newRow("QDateTime") << true;
        QTest::newRow("system_clock::time_point") << false;
    }

    void atInThePastRunsAsSoonAsPossible()
    {
        QFETCH(bool, asDateTime);
        VirtualClock clock(VirtualClock::Mode::AutoJump);
        clock.install();
        QAyo::Scope scope;
        QStringList order;
        Duration calledAt = -1s;
        scope.after(1s, [&] { order << QStringLiteral("after 1s"); });
        const auto past = clock.systemNow() - 1h;
        auto note = [&] {
            return [&] {
                calledAt = clock.elapsed();
                order << QStringLiteral("at (past)");
            };
        };
        const qint64 pastMs
            = std::chrono::duration_cast<std::chrono::milliseconds>(past.time_since_epoch())
                  .count();
        auto handle = asDateTime ? scope.at(QDateTime::fromMSecsSinceEpoch(pastMs), note())
                                 : scope.at(past, note());
        QVERIFY(order.isEmpty()); // not called inside at(): on a later turn, like any spawn
        QVERIFY(handle.isActive());
        QAYO_TEST_JOIN(scope);
        QCOMPARE(calledAt, Duration::zero()); // no time had to pass
        QCOMPARE(order, (QStringList { QStringLiteral("at (past)"), QStringLiteral("after 1s") }));
    }

    void atFiresWhenTheWallClockReachesItsTime_data()
    {
        QTest::addColumn<bool>("asDateTime");
        QTest::newRow("QDateTime") << true;
        QTest::newRow("system_clock::time_point") << false;
    }

    void atFiresWhenTheWallClockReachesItsTime()
    {
        // With the virtual clock, wall time moves along with virtual time.
        QFETCH(bool, asDateTime);
        VirtualClock clock;
        clock.install();
        QAyo::Scope scope;
        Duration calledAt = -1s;
        const auto target = clock.systemNow() + 2h;
        const qint64 targetMs
            = std::chrono::duration_cast<std::chrono::milliseconds>(target.time_since_epoch())
                  .count();
        auto note = [&] { return [&] { calledAt = clock.elapsed(); }; };
        auto handle = asDateTime
            ? scope.at(QDateTime::fromMSecsSinceEpoch(targetMs, Qt::UTC), note())
            : scope.at(target, note());
        clock.advance(2h - 1ms); // a QDateTime has millisecond precision: it may be due 1 ms early
        QCOMPARE(calledAt, Duration(-1s));
        QVERIFY(handle.isActive());
        clock.advance(1ms);
        QVERIFY2(calledAt > Duration(2h - 1ms) && calledAt <= Duration(2h),
                 qPrintable(QString::number(calledAt.count())));
        QVERIFY(!handle.isActive());
        QAYO_TEST_JOIN(scope);
    }

    void atNoticesTheWallClockMovingForward()
    {
        SteerableClock clock;
        QAyo::Scope scope;
        Duration calledAt = -1s;
        auto handle = scope.at(clock.systemNow() + 2h, [&] { calledAt = clock.elapsed(); });
        clock.advance(10min);
        clock.setSystemTimeBy(2h); // e.g. the laptop slept, or NTP corrected the time
        QCOMPARE(calledAt, Duration(-1s));
        clock.advance(1min); // at() re-reads the wall clock at least once a minute
        QVERIFY2(calledAt > Duration(10min) && calledAt <= Duration(11min),
                 qPrintable(QString::number(calledAt.count())));
        QVERIFY(!handle.isActive());
        QAYO_TEST_JOIN(scope);
    }

    void atWaitsLongerWhenTheWallClockIsSetBack()
    {
        SteerableClock clock;
        QAyo::Scope scope;
        Duration calledAt = -1s;
        auto handle = scope.at(clock.systemNow() + 2h, [&] { calledAt = clock.elapsed(); });
        clock.advance(30min);
        clock.setSystemTimeBy(-1h);
        clock.advance(2h); // 2.5 h of steady time, but only 1.5 h of wall time since at()
        QCOMPARE(calledAt, Duration(-1s));
        QVERIFY(handle.isActive());
        clock.advance(30min);
        QCOMPARE(calledAt, Duration(3h));
        QAYO_TEST_JOIN(scope);
    }

    // --- bad input -------------------------------------------------------------------------

    void badArgumentsThrowInvalidArgumentNamingTheArgument_data()
    {
        QTest::addColumn<ScheduleMisuse>("misuse");
        QTest::addColumn<QString>("named");
        using Misuse = ScheduleMisuse;
        QTest::newRow("every(0ms)")
            << Misuse([](QAyo::Scope &s) { s.every(0ms, [] {}); }) << QStringLiteral("interval");
        QTest::newRow("every(-1ms)")
            << Misuse([](QAyo::Scope &s) { s.every(-1ms, [] {}); }) << QStringLiteral("interval");
        QTest::newRow("after(-1ms)")
            << Misuse([](QAyo::Scope &s) { s.after(-1ms, [] {}); }) << QStringLiteral("delay");
        QTest::newRow("at(invalid QDateTime)")
            << Misuse([](QAyo::Scope &s) { s.at(QDateTime(), [] {}); }) << QStringLiteral("when");
    }

    void badArgumentsThrowInvalidArgumentNamingTheArgument()
    {
        QFETCH(ScheduleMisuse, misuse);
        QFETCH(QString, named);
        VirtualClock clock;
        clock.install();
        QAyo::Scope scope;
        QString message;
        bool threw = false;
        try {
            misuse(scope);
        } catch (const QAyo::InvalidArgument &e) {
            threw = true;
            message = e.message();
        }
        QVERIFY(threw);
        QVERIFY2(message.contains(named), qPrintable(message));
        QCOMPARE(QAyo::Clock::pendingDeadlines(), 0); // nothing half-scheduled
        QVERIFY(!scope.isActive());
        QAYO_TEST_JOIN(scope);
    }

    void schedulingIntoAFinishedScopeThrowsScopeClosedError()
    {
        QAyo::Scope scope;
        QAYO_TEST_JOIN(scope);
        QVERIFY_THROWS_EXCEPTION(QAyo::ScopeClosedError, scope.after(1ms, [] {}));
        QVERIFY_THROWS_EXCEPTION(QAyo::ScopeClosedError, scope.every(1ms, [] {}));
        QVERIFY_THROWS_EXCEPTION(QAyo::ScopeClosedError,
                                 scope.at(QDateTime::currentDateTimeUtc(), [] {}));
        QCOMPARE(QAyo::Clock::pendingDeadlines(), 0);
    }

    void schedulingFromAnotherThreadRunsOnTheScopeThread()
    {
        // after() called from a worker thread takes effect on the scope's thread.
        QAyo::Scope scope;
        QThread *ranOn = nullptr;
        bool scheduled = false;
        std::unique_ptr<QThread> thread(QThread::create([&] {
            auto handle = scope.after(1ms, [&ranOn] { ranOn = QThread::currentThread(); });
            scheduled = handle.isValid();
        }));
        thread->start();
        QVERIFY(thread->wait(5000));
        QVERIFY(scheduled);
        QVERIFY(spinUntil([&] { return ranOn != nullptr; }));
        QCOMPARE(ranOn, scope.thread());
        QAYO_TEST_JOIN(scope);
    }

    // --- sleep and scope timeouts on the virtual clock -------------------------------------

    void thirtySecondScopeTimeoutRunsInMillisecondsUnderAutoJump_data()
    {
        QTest::addColumn<bool>("timeoutThrows");
        QTest::newRow("move on after") << false;
        QTest::newRow("fail after") << true;
    }

    void thirtySecondScopeTimeoutRunsInMillisecondsUnderAutoJump()
    {
        QFETCH(bool, timeoutThrows);
        VirtualClock clock(VirtualClock::Mode::AutoJump);
        clock.install();
        bool cancelled = false;
        bool timedOut = false;
        bool threwTimeout = false;
        Duration endedAt {};
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope({ .timeout = 30s, .timeoutThrows = timeoutThrows });
            scope.asap(sleepForever(&cancelled));
            try {
                co_await scope;
            } catch (const QAyo::TimeoutError &) {
                threwTimeout = true;
            }
            timedOut = scope.isTimedOut();
            endedAt = clock.elapsed();
        };
        QElapsedTimer realTime;
        realTime.start();
        QAYO_TEST_RUN(body());
        QVERIFY(timedOut);
        QVERIFY(cancelled);
        QCOMPARE(threwTimeout, timeoutThrows);
        QCOMPARE(endedAt, Duration(30s));
        QVERIFY2(realTime.elapsed() < 2000, qPrintable(QString::number(realTime.elapsed())));
    }

    void withTimeoutUnderAutoJumpEndsExactlyAtTheDeadline()
    {
        VirtualClock clock(VirtualClock::Mode::AutoJump);
        clock.install();
        Duration endedAt {};
        bool threw = false;
        auto body = [&]() -> QAyo::Task<> {
            try {
                co_await QAyo::withTimeout(90s, QAyo::sleep(1h));
            } catch (const QAyo::TimeoutError &) {
                threw = true;
            }
            endedAt = clock.elapsed();
        };
        QAYO_TEST_RUN(body());
        QVERIFY(threw);
        QCOMPARE(endedAt, Duration(90s));
    }

    void sleepsUnderAutoJumpWakeInDeadlineOrder()
    {
        VirtualClock clock(VirtualClock::Mode::AutoJump);
        clock.install();
        QStringList woke;
        auto sleeper = [&](std::chrono::minutes minutes) -> QAyo::Task<> {
            co_await QAyo::sleep(minutes);
            woke << QStringLiteral("%1min@%2min").arg(minutes.count()).arg(minutesOn(clock));
        };
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            scope.asap(sleeper, 180min);
            scope.asap(sleeper, 60min);
            scope.asap(sleeper, 120min);
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(woke,
                 (QStringList { QStringLiteral("60min@60min"), QStringLiteral("120min@120min"),
                                QStringLiteral("180min@180min") }));
    }

    void cancellingManySleepersKeepsTheOtherDeadlinesInOrder()
    {
        // Cancelling a scope removes its sleepers' deadlines in one batch (the heap is rebuilt
        // once at the end): the deadlines of another scope, interleaved with them, must still
        // wake in order afterwards.
        VirtualClock clock(VirtualClock::Mode::AutoJump);
        clock.install();
        QList<int> woke;
        auto sleeper = [&](int minutes) -> QAyo::Task<> {
            co_await QAyo::sleep(std::chrono::minutes(minutes));
            woke << minutes;
        };
        int deadlinesAfterCancel = -1;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope kept;
            QAyo::Scope cancelled;
            for (int i = 0; i < 300; ++i) {
                cancelled.asap(sleeper, 1 + (i * 37) % 500); // shuffled, spread over the others
                if (i % 6 == 0)
                    kept.asap(sleeper, 2 + (i * 53) % 499);
            }
            while (QAyo::Clock::pendingDeadlines() < 350)
                co_await QAyo::checkpoint();
            cancelled.cancel();
            deadlinesAfterCancel = QAyo::Clock::pendingDeadlines();
            co_await cancelled;
            co_await kept;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(deadlinesAfterCancel, 50);
        QCOMPARE(woke.size(), 50);
        QList<int> sorted = woke;
        std::sort(sorted.begin(), sorted.end());
        QCOMPARE(woke, sorted);
    }

    void sleepWakesWhenManualTimeReachesItsDeadline()
    {
        VirtualClock clock;
        clock.install();
        QAyo::Scope scope;
        bool woke = false;
        scope.asap([&]() -> QAyo::Task<> {
            co_await QAyo::sleep(10s);
            woke = true;
        });
        clock.advance(10s - 1ns);
        QVERIFY(!woke);
        spinFor(20ms); // manual time does not move by itself
        QVERIFY(!woke);
        clock.advanceTo(clock.now() + 1ns);
        QVERIFY(woke);
        QCOMPARE(clock.elapsed(), Duration(10s));
        QAYO_TEST_JOIN(scope);
    }

    void switchingToAutoJumpMovesTimeOn()
    {
        VirtualClock clock;
        clock.install();
        QCOMPARE(clock.mode(), VirtualClock::Mode::Manual);
        QAyo::Scope scope;
        bool woke = false;
        scope.asap([&]() -> QAyo::Task<> {
            co_await QAyo::sleep(1h);
            woke = true;
        });
        clock.advance(0ns); // starts the task: it goes to sleep
        QVERIFY(!woke);
        clock.setMode(VirtualClock::Mode::AutoJump);
        QVERIFY(spinUntil([&] { return woke; }));
        QCOMPARE(clock.elapsed(), Duration(1h));
        QAYO_TEST_JOIN(scope);
    }

    // --- the virtual clock's own rules -----------------------------------------------------

    void virtualClockRejectsMovingBackwards()
    {
        VirtualClock clock;
        clock.install();
        clock.advance(1min);
        const auto before = clock.now();
        QString message;
        try {
            clock.advance(-1ns);
        } catch (const QAyo::InvalidArgument &e) {
            message = e.message();
        }
        QVERIFY2(message.contains(QLatin1String("duration")), qPrintable(message));
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, clock.advanceTo(before - 1s));
        QCOMPARE(clock.now(), before);
        QCOMPARE(clock.elapsed(), Duration(1min));
    }

    void installingASecondVirtualClockThrowsInvalidStateError()
    {
        VirtualClock first;
        VirtualClock second;
        first.install();
        QVERIFY(first.isInstalled());
        QCOMPARE(QAyo::Clock::current(), static_cast<QAyo::Clock *>(&first));
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidStateError, second.install());
        QVERIFY(!second.isInstalled());
        QCOMPARE(QAyo::Clock::current(), static_cast<QAyo::Clock *>(&first));

        first.uninstall();
        QVERIFY(!first.isInstalled());
        QVERIFY(QAyo::Clock::current() != static_cast<QAyo::Clock *>(&first)); // real time again
        second.install();
        QCOMPARE(QAyo::Clock::current(), static_cast<QAyo::Clock *>(&second));
    }

    // --- the real clock (the only test that takes real time) -------------------------------

    void deadlinesBeyondQTimersRangeStillArmTheRealClock()
    {
        // QTimer takes an int of milliseconds: a 30-day sleep must not overflow it (Qt would
        // warn about a negative interval and never start the timer, so nothing would wake).
        QTest::failOnWarning(QRegularExpression(QStringLiteral("negative interval")));
        bool shortOneWoke = false;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            scope << [&]() -> QAyo::Task<> { co_await QAyo::sleep(std::chrono::days(30)); }();
            co_await QAyo::sleep(10ms); // armed after the far one: the clock must still wake
            shortOneWoke = true;
            scope.cancel();
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QVERIFY(shortOneWoke);
    }

    void everyTenMillisecondsOnTheRealClockFires45To55TimesInHalfASecondWithoutDrift()
    {
        using std::chrono::steady_clock;
        struct Call
        {
            Duration offset; // since every() was called
            int tick; // which tick of the 10 ms grid this call belongs to
        };
        std::vector<Call> calls;
        calls.reserve(100);
        QAyo::Scheduled ticks;
        steady_clock::time_point start;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            start = steady_clock::now();
            ticks = scope.every(10ms, [&] {
                const int tick = int(calls.size()) + 1 + ticks.skippedTicks();
                calls.push_back({ steady_clock::now() - start, tick });
            });
            co_await QAyo::sleep(500ms);
            ticks.unschedule();
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QString report;
        for (const Call &call : calls)
            report += QStringLiteral(" %1:%2us").arg(call.tick).arg(call.offset.count() / 1000);
        const int count = int(calls.size());
        QVERIFY2(count >= 45 && count <= 55, qPrintable(QString::number(count) + report));
        // Drift-free: the calls stay on the grid start + k * 10 ms. A timer re-armed after each
        // call would be late by the accumulated lateness of every call before (5 ms and more by
        // the 50th). One late wake-up proves nothing, so the best of the last five counts.
        auto lateness = Duration::max();
        for (int i = count - 5; i < count; ++i)
            lateness = std::min(lateness, calls[i].offset - calls[i].tick * Duration(10ms));
        QVERIFY2(lateness >= Duration::zero() && lateness < Duration(5ms),
                 qPrintable(QString::number(lateness.count()) + report));
    }
};

QTEST_GUILESS_MAIN(TimeTest)
#include "tst_time.moc"
