// SPDX-License-Identifier: MIT
// Scope timeouts: move_on_after (join returns, isTimedOut), fail_after (timeoutThrows), no
// timeout for a scope that finished in time, the block form, nesting, zero.
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QSignalSpy>
#include <QTest>

using namespace std::chrono_literals;
using namespace TestHelpers;

namespace {

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
    void timeoutCancelsTasksAndJoinReturnsNormally()
    {
        QAyo::Scope scope({.timeout = 100ms}); // generous: the quick task must end well before it
        QCOMPARE(scope.timeout(), std::optional<std::chrono::milliseconds>(100ms));
        QSignalSpy timedOut(&scope, &QAyo::Scope::timedOut);
        QSignalSpy timedOutChanged(&scope, &QAyo::Scope::timedOutChanged);
        QSignalSpy cancelling(&scope, &QAyo::Scope::cancelling);
        bool a = false;
        bool b = false;
        auto ha = scope.asap(sleepForever(&a));
        auto hb = scope.asap(sleepForever(&b));
        auto quick = scope.asap(valueAfter(1ms, 1)); // finishes before the deadline
        bool joinReturned = false;
        bool joinThrew = false;
        auto body = [&]() -> QAyo::Task<> {
            try {
                co_await scope;
                joinReturned = true;
            } catch (...) {
                joinThrew = true;
            }
        };
        QVERIFY_THROWS_NO_EXCEPTION(QAyo::Test::run(body(), 3s));
        QVERIFY(joinReturned);
        QVERIFY(!joinThrew);
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
        QAyo::Scope scope({.timeout = 30ms, .timeoutThrows = true, .name = QStringLiteral("strict")});
        QVERIFY(scope.timeoutThrows());
        QSignalSpy timedOut(&scope, &QAyo::Scope::timedOut);
        bool cancelled = false;
        scope.asap(sleepForever(&cancelled));
        QString message;
        bool passedJoin = false;
        auto body = [&]() -> QAyo::Task<> {
            try {
                co_await scope;
                passedJoin = true;
            } catch (const QAyo::TimeoutError &e) {
                message = e.message();
            }
        };
        QVERIFY_THROWS_NO_EXCEPTION(QAyo::Test::run(body(), 3s));
        QVERIFY(!passedJoin);
        QVERIFY2(message.contains(QLatin1String("strict")), qPrintable(message));
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
        QAyo::Scope scope({.timeout = 150ms, .timeoutThrows = timeoutThrows});
        QSignalSpy timedOut(&scope, &QAyo::Scope::timedOut);
        QSignalSpy cancelling(&scope, &QAyo::Scope::cancelling);
        auto h = scope.asap(valueAfter(2ms, 4));
        bool joinThrew = false;
        auto body = [&]() -> QAyo::Task<> {
            try {
                co_await scope;
            } catch (...) {
                joinThrew = true;
            }
        };
        QVERIFY_THROWS_NO_EXCEPTION(QAyo::Test::run(body(), 3s));
        QVERIFY(!joinThrew);
        QVERIFY(!timedOut.wait(300)); // well past the deadline: still no timeout
        QVERIFY(!scope.isTimedOut());
        QVERIFY(!scope.isCancelled());
        QCOMPARE(cancelling.count(), 0);
        QCOMPARE(h.result(), 4);
    }

    void idleScopeDoesNotReportTimeout()
    {
        // Not joined, but all its work has ended before the deadline: "timedOut: true once the
        // timeout fired while work was still running" (scope.h) - here none was.
        QAyo::Scope scope({.timeout = 150ms});
        QSignalSpy timedOut(&scope, &QAyo::Scope::timedOut);
        auto h = scope.asap(valueAfter(1ms, 1));
        QVERIFY(spinUntil([&] { return !scope.isActive(); }));
        QVERIFY(!timedOut.wait(300));
        QVERIFY(!scope.isTimedOut());
        QCOMPARE(h.result(), 1);
    }

    void timeoutCountsFromTheFirstSpawnNotFromConstruction()
    {
        QAyo::Scope scope({.timeout = 150ms});
        QSignalSpy timedOut(&scope, &QAyo::Scope::timedOut);
        spinFor(200ms); // longer than the timeout, before anything was spawned
        QVERIFY(!scope.isStarted());
        QCOMPARE(timedOut.count(), 0);
        auto h = scope.asap(valueAfter(5ms, 9));
        auto body = [&]() -> QAyo::Task<> { co_await scope; };
        QVERIFY_THROWS_NO_EXCEPTION(QAyo::Test::run(body(), 3s));
        QVERIFY(!scope.isTimedOut());
        QCOMPARE(h.result(), 9);
    }

    void blockFormReportsTimedOut()
    {
        bool cancelled = false;
        bool passedSleep = false;
        QAyo::ScopeOutcome slow;
        QAyo::ScopeOutcome fast;
        auto body = [&]() -> QAyo::Task<> {
            slow = co_await QAyo::scope({.timeout = 30ms}, [&](QAyo::Scope &s) -> QAyo::Task<> {
                s.asap(sleepForever(&cancelled));
                co_await QAyo::sleep(1h); // the body itself is inside the timeout
                passedSleep = true;
            });
            fast = co_await QAyo::scope({.timeout = 1s}, [](QAyo::Scope &s) { s << valueAfter(1ms, 2); });
        };
        QVERIFY_THROWS_NO_EXCEPTION(QAyo::Test::run(body(), 3s));
        QVERIFY(slow.timedOut);
        QVERIFY(slow.cancelled);
        QVERIFY(cancelled);
        QVERIFY(!passedSleep);
        QVERIFY(!fast.timedOut);
        QVERIFY(!fast.cancelled);
        QCOMPARE(fast.results, QVariantList{2});
    }

    void blockFormWithTimeoutThrowsThrowsTimeoutError()
    {
        bool caught = false;
        bool passed = false;
        auto body = [&]() -> QAyo::Task<> {
            try {
                co_await QAyo::scope({.timeout = 20ms, .timeoutThrows = true},
                                     [](QAyo::Scope &s) { s << [] { return QAyo::sleep(1h); }; });
                passed = true;
            } catch (const QAyo::TimeoutError &) {
                caught = true;
            }
        };
        QVERIFY_THROWS_NO_EXCEPTION(QAyo::Test::run(body(), 3s));
        QVERIFY(caught);
        QVERIFY(!passed);
    }

    void innerTimeoutDoesNotAffectOuterScope()
    {
        bool innerCancelled = false;
        bool passedInner = false;
        bool outerSiblingDone = false;
        QAyo::ScopeOutcome inner;
        QAyo::ScopeOutcome outer;
        auto body = [&]() -> QAyo::Task<> {
            outer = co_await QAyo::scope({.timeout = 2s}, [&](QAyo::Scope &o) -> QAyo::Task<> {
                o.asap([&outerSiblingDone]() -> QAyo::Task<> {
                    co_await QAyo::sleep(60ms); // outlives the inner timeout
                    outerSiblingDone = true;
                });
                inner = co_await QAyo::scope({.timeout = 20ms}, [&](QAyo::Scope &i) {
                    i.asap(sleepForever(&innerCancelled));
                });
                passedInner = true;
            });
        };
        QVERIFY_THROWS_NO_EXCEPTION(QAyo::Test::run(body(), 3s));
        QVERIFY(inner.timedOut);
        QVERIFY(innerCancelled);
        QVERIFY(passedInner); // move_on_after: the outer body goes on
        QVERIFY(outerSiblingDone);
        QVERIFY(!outer.timedOut);
        QVERIFY(!outer.cancelled);
    }

    void outerTimeoutCancelsInnerScope()
    {
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
        QVERIFY_THROWS_NO_EXCEPTION(QAyo::Test::run(body(), 3s));
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
        QVERIFY_THROWS_NO_EXCEPTION(QAyo::Test::run(body(), 3s));
        QCOMPARE(outcome.timedOut, withWork);
        QVERIFY(!sleeperCompleted);
    }

    void zeroTimeoutOnAScopeObject()
    {
        QAyo::Scope scope({.timeout = 0ms});
        bool cancelled = false;
        auto h = scope.asap(sleepForever(&cancelled));
        auto body = [&]() -> QAyo::Task<> { co_await scope; };
        QVERIFY_THROWS_NO_EXCEPTION(QAyo::Test::run(body(), 3s));
        QVERIFY(scope.isTimedOut());
        QVERIFY(h.isCancelled());
    }
};

QTEST_GUILESS_MAIN(TimeoutTest)
#include "tst_timeout.moc"
