// SPDX-License-Identifier: MIT
// Scope timeouts: move_on_after (join returns, isTimedOut), fail_after (timeoutThrows), no
// timeout for a scope that finished in time, the block form, nesting, zero.
//
// All but the last test run on a virtual clock in autojump mode: the timeouts fire at their exact
// time and take no real time. The last one checks the same on the real clock.
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>

using namespace std::chrono_literals;
using namespace TestHelpers;

namespace {

using Duration = QAyo::Clock::Duration;

QAyo::Task<int> valueAfter(std::chrono::milliseconds delay, int value)
{
    co_await QAyo::sleep(delay);
    co_return value;
}

} // namespace

class TimeoutTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    void timeoutCancelsTasksAndJoinReturnsNormally()
    {
        const auto clock = installVirtualClock();
        QAyo::Scope scope({.timeout = 100ms});
        QCOMPARE(scope.timeout(), std::optional<std::chrono::milliseconds>(100ms));
        QSignalSpy timedOut(&scope, &QAyo::Scope::timedOut);
        QSignalSpy timedOutChanged(&scope, &QAyo::Scope::timedOutChanged);
        QSignalSpy cancelling(&scope, &QAyo::Scope::cancelling);
        bool a = false;
        bool b = false;
        auto ha = scope.asap(sleepForever(&a));
        auto hb = scope.asap(sleepForever(&b));
        auto quick = scope.asap(valueAfter(1ms, 1)); // finishes before the deadline
        QAYO_TEST_JOIN(scope); // returns normally: move_on_after
        QCOMPARE(clock->elapsed(), Duration(100ms));
        QVERIFY(a && b);
        QVERIFY(ha.isCancelled() && hb.isCancelled());
        QCOMPARE(quick.result(), 1);
        QVERIFY(scope.isTimedOut());
        QVERIFY(scope.property("timedOut").toBool());
        QVERIFY(scope.isCancelled());
        QCOMPARE(timedOut.count(), 1);
        QCOMPARE(timedOutChanged.count(), 1);
        QCOMPARE(cancelling.count(), 1);
        QVERIFY(scope.errors().isEmpty());
        QCOMPARE(scope.results(), QVariantList{1});
    }

    void timeoutThrowsMakesTheJoinThrow()
    {
        const auto clock = installVirtualClock();
        QAyo::Scope scope({.timeout = 30ms, .timeoutThrows = true, .name = QStringLiteral("strict")});
        QVERIFY(scope.timeoutThrows());
        QSignalSpy timedOut(&scope, &QAyo::Scope::timedOut);
        bool cancelled = false;
        scope.asap(sleepForever(&cancelled));
        QString message;
        try {
            QAyo::Test::join(scope);
        } catch (const QAyo::TimeoutError &e) {
            message = e.message();
        }
        QVERIFY2(message.contains(QLatin1String("strict")), qPrintable(message));
        QCOMPARE(clock->elapsed(), Duration(30ms));
        QVERIFY(cancelled);
        QVERIFY(scope.isTimedOut());
        QCOMPARE(timedOut.count(), 1);
    }

    void scopeFinishedBeforeItsDeadlineNeverTimesOut_data()
    {
        QTest::addColumn<bool>("timeoutThrows");
        QTest::newRow("move on after") << false;
        QTest::newRow("fail after") << true;
    }

    void scopeFinishedBeforeItsDeadlineNeverTimesOut()
    {
        QFETCH(bool, timeoutThrows);
        const auto clock = installVirtualClock();
        QAyo::Scope scope({.timeout = 150ms, .timeoutThrows = timeoutThrows});
        QSignalSpy timedOut(&scope, &QAyo::Scope::timedOut);
        QSignalSpy cancelling(&scope, &QAyo::Scope::cancelling);
        auto h = scope.asap(valueAfter(2ms, 4));
        QAYO_TEST_JOIN(scope);
        QCOMPARE(clock->elapsed(), Duration(2ms));
        clock->advance(1h); // well past the deadline: still no timeout
        QCOMPARE(timedOut.count(), 0);
        QVERIFY(!scope.isTimedOut());
        QVERIFY(!scope.isCancelled());
        QCOMPARE(cancelling.count(), 0);
        QCOMPARE(h.result(), 4);
    }

    void idleScopeDoesNotReportTimeout()
    {
        // Not joined, but all its work has ended before the deadline: "timedOut: true once the
        // timeout fired while work was still running" (scope.h) - here none was.
        const auto clock = installVirtualClock();
        QAyo::Scope scope({.timeout = 150ms});
        QSignalSpy timedOut(&scope, &QAyo::Scope::timedOut);
        auto h = scope.asap(valueAfter(1ms, 1));
        QVERIFY(spinUntil([&] { return !scope.isActive(); }));
        clock->advance(1h);
        QCOMPARE(timedOut.count(), 0);
        QVERIFY(!scope.isTimedOut());
        QCOMPARE(h.result(), 1);
    }

    void timeoutCountsFromTheFirstSpawnNotFromConstruction()
    {
        const auto clock = installVirtualClock();
        QAyo::Scope scope({.timeout = 150ms});
        QSignalSpy timedOut(&scope, &QAyo::Scope::timedOut);
        clock->advance(1h); // longer than the timeout, before anything was spawned
        QVERIFY(!scope.isStarted());
        QCOMPARE(timedOut.count(), 0);
        auto h = scope.asap(valueAfter(5ms, 9));
        QAYO_TEST_JOIN(scope);
        QVERIFY(!scope.isTimedOut());
        QCOMPARE(h.result(), 9);
    }

    void blockFormReportsTimedOut()
    {
        const auto clock = installVirtualClock();
        bool cancelled = false;
        bool passedSleep = false;
        QAyo::ScopeOutcome slow;
        QAyo::ScopeOutcome fast;
        Duration slowEndedAt{};
        auto body = [&]() -> QAyo::Task<> {
            slow = co_await QAyo::scope({.timeout = 30ms}, [&](QAyo::Scope &s) -> QAyo::Task<> {
                s.asap(sleepForever(&cancelled));
                co_await QAyo::sleep(1h); // the body itself is inside the timeout
                passedSleep = true;
            });
            slowEndedAt = clock->elapsed();
            fast = co_await QAyo::scope({.timeout = 1s}, [](QAyo::Scope &s) { s << valueAfter(1ms, 2); });
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(slowEndedAt, Duration(30ms));
        QVERIFY(slow.timedOut);
        QVERIFY(slow.cancelled);
        QVERIFY(cancelled);
        QVERIFY(!passedSleep);
        QCOMPARE(clock->elapsed(), Duration(31ms));
        QVERIFY(!fast.timedOut);
        QVERIFY(!fast.cancelled);
        QCOMPARE(fast.results, QVariantList{2});
    }

    void blockFormWithTimeoutThrowsThrowsTimeoutError()
    {
        const auto clock = installVirtualClock();
        bool passed = false;
        auto body = [&]() -> QAyo::Task<> {
            co_await QAyo::scope({.timeout = 20ms, .timeoutThrows = true},
                                 [](QAyo::Scope &s) { s << [] { return QAyo::sleep(1h); }; });
            passed = true;
        };
        QVERIFY_THROWS_EXCEPTION(QAyo::TimeoutError, QAyo::Test::run(body()));
        QCOMPARE(clock->elapsed(), Duration(20ms)); // not run()'s own deadline
        QVERIFY(!passed);
    }

    void innerTimeoutDoesNotAffectOuterScope()
    {
        const auto clock = installVirtualClock();
        bool innerCancelled = false;
        bool passedInner = false;
        Duration outerSiblingDoneAt{};
        QAyo::ScopeOutcome inner;
        QAyo::ScopeOutcome outer;
        auto body = [&]() -> QAyo::Task<> {
            outer = co_await QAyo::scope({.timeout = 2s}, [&](QAyo::Scope &o) -> QAyo::Task<> {
                o.asap([&]() -> QAyo::Task<> {
                    co_await QAyo::sleep(60ms); // outlives the inner timeout
                    outerSiblingDoneAt = clock->elapsed();
                });
                inner = co_await QAyo::scope({.timeout = 20ms}, [&](QAyo::Scope &i) {
                    i.asap(sleepForever(&innerCancelled));
                });
                passedInner = true;
            });
        };
        QAYO_TEST_RUN(body());
        QVERIFY(inner.timedOut);
        QVERIFY(innerCancelled);
        QVERIFY(passedInner); // move_on_after: the outer body goes on
        QCOMPARE(outerSiblingDoneAt, Duration(60ms));
        QVERIFY(!outer.timedOut);
        QVERIFY(!outer.cancelled);
    }

    void outerTimeoutCancelsInnerScope()
    {
        const auto clock = installVirtualClock();
        bool innerCancelled = false;
        bool innerAwaitThrewCancelled = false;
        QAyo::ScopeOutcome outer;
        auto body = [&]() -> QAyo::Task<> {
            outer = co_await QAyo::scope({.timeout = 20ms}, [&](QAyo::Scope &) -> QAyo::Task<> {
                try {
                    co_await QAyo::scope({.timeout = 2s}, [&](QAyo::Scope &i) {
                        i.asap(sleepForever(&innerCancelled));
                    });
                } catch (const QAyo::Cancelled &) {
                    innerAwaitThrewCancelled = true;
                    throw;
                }
            });
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(clock->elapsed(), Duration(20ms));
        QVERIFY(outer.timedOut);
        QVERIFY(innerCancelled);
        QVERIFY(innerAwaitThrewCancelled);
    }

    void zeroTimeout_data()
    {
        QTest::addColumn<bool>("withWork");
        QTest::newRow("with a sleeping task") << true;
        QTest::newRow("empty body") << false;
    }

    void zeroTimeout()
    {
        QFETCH(bool, withWork);
        const auto clock = installVirtualClock();
        bool cancelled = false;
        bool sleeperCompleted = false;
        QAyo::ScopeOutcome outcome;
        auto body = [&]() -> QAyo::Task<> {
            outcome = co_await QAyo::scope({.timeout = 0ms}, [&](QAyo::Scope &s) {
                if (withWork) {
                    s.asap([&]() -> QAyo::Task<> {
                        co_await sleepForever(&cancelled);
                        sleeperCompleted = true;
                    });
                }
            });
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(outcome.timedOut, withWork);
        QVERIFY(!sleeperCompleted);
        QCOMPARE(clock->elapsed(), Duration::zero());
    }

    void zeroTimeoutOnAScopeObject()
    {
        const auto clock = installVirtualClock();
        QAyo::Scope scope({.timeout = 0ms});
        bool cancelled = false;
        auto h = scope.asap(sleepForever(&cancelled));
        QAYO_TEST_JOIN(scope);
        QVERIFY(scope.isTimedOut());
        QVERIFY(h.isCancelled());
        QCOMPARE(clock->elapsed(), Duration::zero());
    }

    // --- the real clock ----------------------------------------------------------------------

    void timeoutFiresOnTheRealClock()
    {
        QAyo::Scope scope({.timeout = 20ms, .timeoutThrows = true, .name = QStringLiteral("real")});
        bool cancelled = false;
        scope.asap(sleepForever(&cancelled));
        QElapsedTimer elapsed;
        elapsed.start();
        QVERIFY_THROWS_EXCEPTION(QAyo::TimeoutError, QAyo::Test::join(scope, 5s));
        QVERIFY2(elapsed.elapsed() < 4000, qPrintable(QString::number(elapsed.elapsed()))); // not run's deadline
        QVERIFY(cancelled);
        QVERIFY(scope.isTimedOut());
    }
};

QTEST_GUILESS_MAIN(TimeoutTest)
#include "tst_timeout.moc"
