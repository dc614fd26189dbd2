// SPDX-License-Identifier: MIT
// Cancellation: waking, checkpoints, level triggering, dropped work, propagation to nested
// scopes, Handle::cancel, cleanup, foreign awaitables, errors versus cancellation.
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QSignalSpy>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <qcoro/qcorotimer.h>

#include <memory>
#include <stdexcept>
#include <type_traits>

using namespace std::chrono_literals;
using namespace TestHelpers;

namespace {

QAyo::Task<int> valueAfter(std::chrono::milliseconds delay, int value)
{
    co_await QAyo::sleep(delay);
    co_return value;
}

QAyo::Task<> markRan(bool *ran)
{
    *ran = true;
    co_return;
}

//! What a cancelled task awaits after it caught the first Cancelled.
enum class SecondAwait { Sleep, Checkpoint, InlineTask, Handle, JoinOfOtherScope, ForeignTimer };

//! What a task awaits when its scope is cancelled and the awaited operation fails.
enum class FailingCleanup { CatchBlockThrows, ForeignAwaitFails, InlineTaskFails };

//! The foreign awaitable a task is suspended on when cancelled.
enum class Foreign { QTimer, QCoroTask };

//! A capture that cancels another task when it is destroyed (with the callable that holds it):
//! user code that runs while QAyo drops queued work. The partner is filled in after spawning.
struct CancelsPartnerWhenDestroyed
{
    using Slot = std::shared_ptr<QAyo::Handle<void>>;
    explicit CancelsPartnerWhenDestroyed(Slot partner) : partner(std::move(partner)) {}
    CancelsPartnerWhenDestroyed(CancelsPartnerWhenDestroyed &&) = default;
    ~CancelsPartnerWhenDestroyed()
    {
        if (partner && partner->isValid())
            partner->cancel();
    }
    Slot partner;
};

//! Spawns \a count queued tasks into \a scope, each of whose callables cancels the next one
//! (the one a walk over the scope's tasks visits next) when it is destroyed. The test keeps no
//! handle: the last reference to a partner is the capture that cancels it.
void spawnChainOfPartnerCancellers(QAyo::Scope &scope, int count, int *ran)
{
    auto nextSlot = std::make_shared<QAyo::Handle<void>>();
    for (int i = 0; i < count; ++i) {
        auto slot = nextSlot;
        nextSlot = std::make_shared<QAyo::Handle<void>>();
        *slot = scope.asap([link = CancelsPartnerWhenDestroyed(nextSlot), ran] { ++*ran; });
    }
}

} // namespace

Q_DECLARE_METATYPE(SecondAwait)
Q_DECLARE_METATYPE(FailingCleanup)
Q_DECLARE_METATYPE(Foreign)

class CancellationTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    void cancelledIsNotAStdException()
    {
        static_assert(!std::is_base_of_v<std::exception, QAyo::Cancelled>,
                      "catch (const std::exception &) must not swallow a cancellation");
        QAyo::Scope scope;
        bool swallowed = false;
        bool sawCancelled = false;
        auto h = scope.asap([&]() -> QAyo::Task<> {
            try {
                try {
                    co_await QAyo::sleep(1h);
                } catch (const std::exception &) {
                    swallowed = true;
                }
            } catch (const QAyo::Cancelled &) {
                sawCancelled = true;
                throw;
            }
        });
        QVERIFY(spinUntil([&] { return scope.runningCount() == 1; }));
        scope.cancel();
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        QVERIFY(!swallowed);
        QVERIFY(sawCancelled);
        QVERIFY(h.isCancelled());
    }

    void cancelWakesASleepingTaskAtOnce()
    {
        const auto clock = installVirtualClock(); // autojump: a sleeper not woken sleeps an hour
        QAyo::Scope scope;
        bool cancelled = false;
        bool resumedNormally = false;
        auto h = scope.asap([&]() -> QAyo::Task<> {
            try {
                co_await QAyo::sleep(1h);
                resumedNormally = true;
            } catch (const QAyo::Cancelled &) {
                cancelled = true;
                throw;
            }
        });
        auto body = [&]() -> QAyo::Task<> {
            co_await QAyo::sleep(5ms); // the sleeper is suspended by now
            scope.cancel();
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(clock->elapsed(), QAyo::Clock::Duration(5ms)); // woken at the cancel itself
        QVERIFY(cancelled);
        QVERIFY(!resumedNormally);
        QVERIFY(h.isCancelled());
    }

    void cancelledIsDeliveredAtTheNextCheckpoint()
    {
        QAyo::Scope scope;
        bool ranOnAfterCancel = false;
        bool passedCheckpoint = false;
        auto h = scope.asap([&]() -> QAyo::Task<> {
            co_await QAyo::sleep(1ms);
            scope.cancel(); // the task cancels its own scope while running
            ranOnAfterCancel = true; // not an asynchronous exception: the code runs on
            co_await QAyo::checkpoint();
            passedCheckpoint = true;
        });
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        QVERIFY(ranOnAfterCancel);
        QVERIFY(!passedCheckpoint);
        QVERIFY(h.isCancelled());
    }

    void checkpointRaisesWhenCancelled()
    {
        QAyo::Scope scope;
        int iterations = 0;
        auto h = scope.asap([&iterations]() -> QAyo::Task<> {
            for (;;) { // a busy loop that never sleeps: only the checkpoint lets cancel in
                ++iterations;
                co_await QAyo::checkpoint();
            }
        });
        QVERIFY(spinUntil([&] { return iterations >= 10; }));
        scope.cancel();
        QVERIFY(spinUntil([&] { return h.isFinished(); }, 1s));
        QVERIFY(h.isCancelled());
    }

    void cancellationIsLevelTriggered_data()
    {
        QTest::addColumn<SecondAwait>("second");
        QTest::newRow("sleep") << SecondAwait::Sleep;
        QTest::newRow("checkpoint") << SecondAwait::Checkpoint;
        QTest::newRow("inline QAyo::Task") << SecondAwait::InlineTask;
        QTest::newRow("handle") << SecondAwait::Handle;
        QTest::newRow("join of another scope") << SecondAwait::JoinOfOtherScope;
        QTest::newRow("foreign QTimer") << SecondAwait::ForeignTimer;
    }

    void cancellationIsLevelTriggered()
    {
        QFETCH(SecondAwait, second);
        QAyo::Scope others; // something to wait for that would take an hour
        bool dummy = false;
        auto otherHandle = others.asap(sleepForever(&dummy));

        QAyo::Scope scope;
        bool firstCancelled = false;
        bool secondCancelled = false;
        bool passedSecond = false;
        bool innerRan = false;
        auto h = scope.asap([&]() -> QAyo::Task<> {
            try {
                co_await QAyo::sleep(1h);
            } catch (const QAyo::Cancelled &) {
                firstCancelled = true; // swallowed on purpose: the next await must raise again
            }
            try {
                switch (second) {
                case SecondAwait::Sleep:
                    co_await QAyo::sleep(1h);
                    break;
                case SecondAwait::Checkpoint:
                    co_await QAyo::checkpoint();
                    break;
                case SecondAwait::InlineTask:
                    co_await markRan(&innerRan);
                    break;
                case SecondAwait::Handle:
                    co_await otherHandle;
                    break;
                case SecondAwait::JoinOfOtherScope:
                    co_await others;
                    break;
                case SecondAwait::ForeignTimer: {
                    QTimer timer;
                    timer.setSingleShot(true);
                    timer.start(1h);
                    co_await timer;
                    break;
                }
                }
                passedSecond = true;
            } catch (const QAyo::Cancelled &) {
                secondCancelled = true;
                throw;
            }
        });
        QVERIFY(spinUntil([&] { return scope.runningCount() == 1; }));
        scope.cancel();
        QVERIFY(spinUntil([&] { return h.isFinished(); }, 2s));
        QVERIFY(firstCancelled);
        QVERIFY(secondCancelled);
        QVERIFY(!passedSecond);
        QVERIFY(!innerRan); // an inline task awaited after the cancel does not even start
        QVERIFY(h.isCancelled());
        QVERIFY(!others.isFinished()); // the join was never entered
        others.cancel();
        QVERIFY(spinUntil([&] { return otherHandle.isFinished(); }));
    }

    void cancelTwiceIsHarmless()
    {
        QAyo::Scope scope;
        QSignalSpy cancelling(&scope, &QAyo::Scope::cancelling);
        QSignalSpy cancelledChanged(&scope, &QAyo::Scope::cancelledChanged);
        bool cancelled = false;
        auto h = scope.asap(sleepForever(&cancelled));
        QVERIFY(spinUntil([&] { return scope.runningCount() == 1; }));
        scope.cancel();
        scope.cancel();
        QVERIFY(scope.isCancelled());
        QVERIFY(scope.property("cancelled").toBool());
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        scope.cancel();
        QCOMPARE(cancelling.count(), 1);
        QCOMPARE(cancelledChanged.count(), 1);
        QVERIFY(cancelled);
        QAYO_TEST_JOIN(scope);
        QVERIFY(scope.errors().isEmpty());
    }

    void cancelFinishedScopeIsHarmless()
    {
        QAyo::Scope scope;
        auto h = scope.asap(valueAfter(1ms, 3));
        QAYO_TEST_JOIN(scope);
        QSignalSpy cancelling(&scope, &QAyo::Scope::cancelling);
        scope.cancel();
        scope.cancel();
        QCOMPARE(cancelling.count(), 0);
        QVERIFY(scope.isFinished());
        QVERIFY(!h.isCancelled());
        QCOMPARE(h.result(), 3);
        QCOMPARE(scope.results(), QVariantList{3});
    }

    void cancelBeforeFirstTaskStartedIsHarmless()
    {
        QAyo::Scope scope;
        QSignalSpy failed(&scope, &QAyo::Scope::taskFailed);
        int ran = 0;
        QList<QAyo::Handle<void>> handles;
        for (int i = 0; i < 3; ++i)
            handles << scope.asap([&ran] { ++ran; });
        scope.cancel(); // nothing has started yet
        QAYO_TEST_JOIN(scope);
        QCOMPARE(ran, 0);
        for (const auto &h : handles)
            QVERIFY(h.isCancelled());
        QCOMPARE(scope.pendingCount(), 0);
        QVERIFY(scope.errors().isEmpty());
        QCOMPARE(failed.count(), 0);
    }

    void cancelEmptyScopeIsHarmless()
    {
        QAyo::Scope scope;
        scope.cancel();
        QVERIFY(scope.isCancelled());
        QAYO_TEST_JOIN(scope);
        QVERIFY(scope.isFinished());
    }

    void queuedWorkIsDropped()
    {
        QAyo::Scope scope({.maxConcurrency = 1});
        bool firstCancelled = false;
        auto first = scope.asap(sleepForever(&firstCancelled));
        int ran = 0;
        QList<QAyo::Handle<int>> queued;
        for (int i = 0; i < 4; ++i)
            queued << scope.asap([&ran](int i) { ++ran; return i; }, i);
        QVERIFY(spinUntil([&] { return scope.runningCount() == 1; }));
        QCOMPARE(scope.pendingCount(), 4);
        scope.cancel();
        QAYO_TEST_JOIN(scope);
        spinFor(20ms); // a dropped item that started anyway would have run by now
        QCOMPARE(ran, 0);
        QVERIFY(firstCancelled);
        QVERIFY(first.isCancelled());
        for (const auto &h : queued) {
            QVERIFY(h.isCancelled());
            QVERIFY_THROWS_EXCEPTION(QAyo::TaskCancelledError, h.result());
        }
        QCOMPARE(scope.pendingCount(), 0);
    }

    void workSpawnedIntoACancelledScopeNeverStarts()
    {
        QAyo::Scope scope;
        scope.cancel();
        bool ran = false;
        auto h = scope.asap([&ran] { ran = true; });
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        spinFor(10ms);
        QVERIFY(!ran);
        QVERIFY(h.isCancelled());
    }

    void cancelPropagatesToNestedBlockScope_data()
    {
        QTest::addColumn<bool>("throughHandle");
        QTest::newRow("scope.cancel()") << false;
        QTest::newRow("handle.cancel() of the enclosing task") << true;
    }

    void cancelPropagatesToNestedBlockScope()
    {
        QFETCH(bool, throughHandle);
        QAyo::Scope outer;
        bool innerStarted = false;
        bool innerCancelled = false;
        bool passedInnerScope = false;
        bool innerScopeCancelled = false;
        QAyo::Handle<void> innerHandle;
        auto outerTask = outer.asap([&]() -> QAyo::Task<> {
            const auto outcome = co_await QAyo::scope([&](QAyo::Scope &inner) {
                innerHandle = inner.asap([&]() -> QAyo::Task<> {
                    innerStarted = true;
                    co_await sleepForever(&innerCancelled);
                });
                connect(&inner, &QAyo::Scope::cancelling, &inner,
                        [&innerScopeCancelled] { innerScopeCancelled = true; });
            });
            Q_UNUSED(outcome);
            passedInnerScope = true;
        });
        QVERIFY(spinUntil([&] { return innerStarted; }));
        if (throughHandle)
            outerTask.cancel();
        else
            outer.cancel();
        QVERIFY(spinUntil([&] { return outerTask.isFinished(); }));
        QVERIFY(innerCancelled);
        QVERIFY(innerScopeCancelled);
        QVERIFY(innerHandle.isCancelled());
        QVERIFY(!passedInnerScope); // the enclosing task gets Cancelled after the inner join
        QVERIFY(outerTask.isCancelled());
        QVERIFY(outer.errors().isEmpty());
    }

    void cancelPropagatesToChildScopes()
    {
        QAyo::Scope parent;
        auto *child = new QAyo::Scope(&parent);
        auto *grandchild = new QAyo::Scope(child);
        QCOMPARE(child->parentScope(), &parent);
        QCOMPARE(grandchild->parentScope(), child);
        bool childTaskCancelled = false;
        bool grandchildTaskCancelled = false;
        auto a = child->asap(sleepForever(&childTaskCancelled));
        auto b = grandchild->asap(sleepForever(&grandchildTaskCancelled));
        QVERIFY(spinUntil([&] { return child->runningCount() == 1 && grandchild->runningCount() == 1; }));
        QSignalSpy childCancelling(child, &QAyo::Scope::cancelling);
        parent.cancel();
        QVERIFY(child->isCancelled());
        QVERIFY(grandchild->isCancelled());
        QVERIFY(spinUntil([&] { return a.isFinished() && b.isFinished(); }));
        QVERIFY(childTaskCancelled);
        QVERIFY(grandchildTaskCancelled);
        QVERIFY(a.isCancelled());
        QVERIFY(b.isCancelled());
        QCOMPARE(childCancelling.count(), 1);
    }

    void childScopeOfACancelledScopeIsBornCancelled()
    {
        QAyo::Scope parent;
        parent.cancel();
        auto *child = new QAyo::Scope(&parent);
        QVERIFY(child->isCancelled());
        bool ran = false;
        auto h = child->asap([&ran] { ran = true; });
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        QVERIFY(!ran);
        QVERIFY(h.isCancelled());
    }

    void cancellingAParentDoesNotCancelTheParentsParent()
    {
        QAyo::Scope parent;
        auto *child = new QAyo::Scope(&parent);
        bool childCancelled = false;
        auto h = child->asap(sleepForever(&childCancelled));
        auto sibling = parent.asap(valueAfter(5ms, 1));
        QVERIFY(spinUntil([&] { return child->runningCount() == 1; }));
        child->cancel();
        QVERIFY(spinUntil([&] { return h.isFinished() && sibling.isFinished(); }));
        QVERIFY(!parent.isCancelled());
        QCOMPARE(sibling.result(), 1);
    }

    void handleCancelCancelsOnlyThatTask()
    {
        QAyo::Scope scope;
        QSignalSpy cancelling(&scope, &QAyo::Scope::cancelling);
        bool victimCancelled = false;
        bool release = false;
        auto victim = scope.asap(sleepForever(&victimCancelled));
        auto bystander = scope.asap([&release]() -> QAyo::Task<int> {
            co_await waitUntil(&release);
            co_return 5;
        });
        QVERIFY(spinUntil([&] { return scope.runningCount() == 2; }));
        victim.cancel();
        QVERIFY(spinUntil([&] { return victim.isFinished(); }));
        QVERIFY(victimCancelled);
        QVERIFY(victim.isCancelled());
        QVERIFY(!bystander.isFinished());
        QVERIFY(!scope.isCancelled());
        QCOMPARE(cancelling.count(), 0);
        release = true;
        QAYO_TEST_JOIN(scope);
        QCOMPARE(bystander.result(), 5);
        QVERIFY(scope.errors().isEmpty());
    }

    void handleCancelOfAQueuedTaskDropsIt()
    {
        QAyo::Scope scope({.maxConcurrency = 1});
        bool release = false;
        bool queuedRan = false;
        bool laterRan = false;
        scope.asap(waitUntil(&release));
        auto queued = scope.asap([&queuedRan] { queuedRan = true; });
        auto later = scope.asap([&laterRan] { laterRan = true; });
        QVERIFY(spinUntil([&] { return scope.runningCount() == 1; }));
        queued.cancel();
        release = true;
        QAYO_TEST_JOIN(scope);
        QVERIFY(!queuedRan);
        QVERIFY(queued.isCancelled());
        QVERIFY(laterRan); // the siblings go on
        QVERIFY(!scope.isCancelled());
    }

    void awaitingACancelledTaskThrowsTaskCancelledError()
    {
        QAyo::Scope scope;
        bool dummy = false;
        auto victim = scope.asap(sleepForever(&dummy));
        victim.setName(QStringLiteral("victim"));
        QString message;
        bool waiterCancelled = false;
        auto waiter = scope.asap([&]() -> QAyo::Task<> {
            try {
                co_await victim;
            } catch (const QAyo::TaskCancelledError &e) {
                message = e.message();
            } catch (const QAyo::Cancelled &) {
                waiterCancelled = true;
                throw;
            }
        });
        QVERIFY(spinUntil([&] { return scope.runningCount() == 2; }));
        victim.cancel();
        QAYO_TEST_JOIN(scope);
        QVERIFY(!waiterCancelled); // only the victim was cancelled
        QVERIFY2(message.contains(QLatin1String("victim")), qPrintable(message));
        QVERIFY2(message.contains(QLatin1String("cancelled")), qPrintable(message));
        QVERIFY(waiter.isFinished() && !waiter.isCancelled() && !waiter.isFailed());
        QVERIFY_THROWS_EXCEPTION(QAyo::TaskCancelledError, victim.result());
    }

    void cleanupRunsOnCancellation()
    {
        QAyo::Scope scope;
        int live = 0;
        int catchBlocksRun = 0;
        bool resumedNormally = false;
        auto inner = [&live]() -> QAyo::Task<> {
            LiveCounter guard(&live);
            co_await QAyo::sleep(1h);
        };
        auto job = [&]() -> QAyo::Task<> {
            LiveCounter guard(&live);
            try {
                co_await inner();
                resumedNormally = true;
            } catch (const QAyo::Cancelled &) {
                ++catchBlocksRun;
                throw;
            }
        };
        QList<QAyo::Handle<void>> handles;
        for (int i = 0; i < 3; ++i)
            handles << scope.asap(job);
        QVERIFY(spinUntil([&] { return live == 6; }));
        scope.cancel();
        QAYO_TEST_JOIN(scope);
        QCOMPARE(live, 0); // the destructors of both frames' locals ran
        QCOMPARE(catchBlocksRun, 3);
        QVERIFY(!resumedNormally);
        for (const auto &h : handles)
            QVERIFY(h.isCancelled());
    }

    void cancelledEscapingACancelledTaskIsNotAnError()
    {
        QAyo::Scope scope;
        QSignalSpy failed(&scope, &QAyo::Scope::taskFailed);
        bool a = false;
        bool b = false;
        auto ha = scope.asap(sleepForever(&a));
        auto hb = scope.asap(sleepForever(&b));
        scope.asap([&scope]() -> QAyo::Task<> {
            co_await QAyo::sleep(5ms);
            scope.cancel();
        });
        QAYO_TEST_JOIN(scope);
        QVERIFY(a && b);
        QVERIFY(ha.isCancelled() && !ha.isFailed());
        QVERIFY(hb.isCancelled() && !hb.isFailed());
        QVERIFY(scope.errors().isEmpty());
        QCOMPARE(failed.count(), 0);
    }

    void cancelledThrownWithoutCancellationIsAnError()
    {
        QAyo::Scope scope;
        QSignalSpy failed(&scope, &QAyo::Scope::taskFailed);
        auto h = scope.asap([]() -> QAyo::Task<> {
            co_await QAyo::checkpoint();
            throw QAyo::Cancelled{}; // nobody cancelled this task
        });
        // The join rethrows the first error, which is this stray Cancelled.
        QCOMPARE(joinError<QAyo::Cancelled>(scope), QStringLiteral("QAyo::Cancelled"));
        QVERIFY(h.isFailed());
        QCOMPARE(scope.errors().size(), 1);
        QCOMPARE(failed.count(), 1);
    }

    void foreignAwaitableDeliversCancelledWhenItCompletes_data()
    {
        QTest::addColumn<Foreign>("foreign");
        QTest::newRow("QTimer through QCoro") << Foreign::QTimer;
        QTest::newRow("QCoro::Task") << Foreign::QCoroTask;
    }

    void foreignAwaitableDeliversCancelledWhenItCompletes()
    {
        QFETCH(Foreign, foreign);
        QAyo::Scope scope;
        bool suspended = false;
        bool foreignCompleted = false;
        bool completedBeforeCancelled = false;
        bool cancelled = false;
        bool passedAwait = false;
        auto qcoroWork = [&foreignCompleted]() -> QCoro::Task<int> {
            QTimer timer;
            timer.setSingleShot(true);
            timer.start(100ms);
            co_await timer;
            foreignCompleted = true;
            co_return 1;
        };
        auto h = scope.asap([&]() -> QAyo::Task<> {
            try {
                if (foreign == Foreign::QTimer) {
                    QTimer timer;
                    timer.setSingleShot(true);
                    connect(&timer, &QTimer::timeout, &timer, [&foreignCompleted] { foreignCompleted = true; });
                    timer.start(100ms);
                    suspended = true;
                    co_await timer;
                } else {
                    suspended = true;
                    co_await qcoroWork();
                }
                passedAwait = true;
            } catch (const QAyo::Cancelled &) {
                completedBeforeCancelled = foreignCompleted;
                cancelled = true;
                throw;
            }
        });
        QVERIFY(spinUntil([&] { return suspended; }));
        scope.cancel();
        QVERIFY(!h.isFinished()); // cannot be interrupted: it waits for the foreign operation
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        QVERIFY(cancelled);
        QVERIFY(completedBeforeCancelled);
        QVERIFY(!passedAwait);
        QVERIFY(h.isCancelled());
    }

    void errorsBeatCancellation_data()
    {
        QTest::addColumn<FailingCleanup>("how");
        QTest::newRow("catch block throws") << FailingCleanup::CatchBlockThrows;
        QTest::newRow("awaited QCoro::Task fails") << FailingCleanup::ForeignAwaitFails;
        QTest::newRow("inline QAyo::Task fails") << FailingCleanup::InlineTaskFails;
    }

    void errorsBeatCancellation()
    {
        QFETCH(FailingCleanup, how);
        QAyo::Scope scope;
        auto failingQCoro = []() -> QCoro::Task<int> {
            QTimer timer;
            timer.setSingleShot(true);
            timer.start(30ms);
            co_await timer;
            throw std::runtime_error("real error");
        };
        auto inlineChild = []() -> QAyo::Task<> {
            try {
                co_await QAyo::sleep(1h);
            } catch (const QAyo::Cancelled &) {
                throw std::runtime_error("real error");
            }
        };
        auto h = scope.asap([&]() -> QAyo::Task<> {
            switch (how) {
            case FailingCleanup::CatchBlockThrows:
                try {
                    co_await QAyo::sleep(1h);
                } catch (const QAyo::Cancelled &) {
                    throw std::runtime_error("real error");
                }
                break;
            case FailingCleanup::ForeignAwaitFails:
                co_await failingQCoro();
                break;
            case FailingCleanup::InlineTaskFails:
                co_await inlineChild();
                break;
            }
        });
        scope.asap([&scope]() -> QAyo::Task<> {
            co_await QAyo::sleep(5ms);
            scope.cancel();
        });
        QCOMPARE(joinError<std::runtime_error>(scope), QStringLiteral("real error"));
        QVERIFY(h.isFailed());
        QCOMPARE(scope.errorMessages(), QStringList{QStringLiteral("real error")});
    }

    void cancelFromAnotherThreadReachesTheScope()
    {
        QAyo::Scope scope;
        bool cancelled = false;
        auto h = scope.asap(sleepForever(&cancelled));
        QVERIFY(spinUntil([&] { return scope.runningCount() == 1; }));
        std::unique_ptr<QThread> thread(QThread::create([&scope] { scope.cancel(); }));
        thread->start();
        QVERIFY(thread->wait(3000));
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        QVERIFY(cancelled);
        QVERIFY(scope.isCancelled());
    }

    // --- user code run by dropping queued work (callable destructors) never runs inside the walk

    void scopeCancelSurvivesCapturesThatCancelTheNextQueuedTask()
    {
        QAyo::Scope scope({.maxConcurrency = 1});
        bool firstCancelled = false;
        scope.asap(sleepForever(&firstCancelled));
        int ran = 0;
        spawnChainOfPartnerCancellers(scope, 8, &ran);
        QVERIFY(spinUntil([&] { return scope.runningCount() == 1; }));
        QCOMPARE(scope.pendingCount(), 8);
        scope.cancel();
        QAYO_TEST_JOIN(scope);
        QCOMPARE(ran, 0);
        QVERIFY(firstCancelled);
        QCOMPARE(scope.pendingCount(), 0);
        QCOMPARE(scope.runningCount(), 0);
        QVERIFY(!scope.isActive());
    }

    void scopeDestructionSurvivesCapturesThatCancelTheNextQueuedTask()
    {
        auto scope = std::make_unique<QAyo::Scope>(QAyo::ScopeOptions{.maxConcurrency = 1});
        bool firstCancelled = false;
        scope->asap(sleepForever(&firstCancelled));
        int ran = 0;
        spawnChainOfPartnerCancellers(*scope, 8, &ran);
        QVERIFY(spinUntil([&] { return scope->runningCount() == 1; }));
        // A slot would meet a half-destroyed scope: its destructor emits none of these.
        int emittedWhileDestroyed = 0;
        const auto count = [&emittedWhileDestroyed] { ++emittedWhileDestroyed; };
        connect(scope.get(), &QAyo::Scope::pendingChanged, this, count);
        connect(scope.get(), &QAyo::Scope::activeChanged, this, count);
        scope.reset();
        QCOMPARE(emittedWhileDestroyed, 0);
        spinFor(10ms);
        QCOMPARE(ran, 0);
    }

    void childScopeCancelSurvivesCapturesThatCancelTheNextQueuedTask()
    {
        // The walk goes down to child scopes: the same inside each of them.
        QAyo::Scope parent;
        auto *first = new QAyo::Scope({.maxConcurrency = 1}, &parent);
        auto *second = new QAyo::Scope({.maxConcurrency = 1}, &parent);
        bool cancelled[2] = {};
        int ran = 0;
        first->asap(sleepForever(&cancelled[0]));
        second->asap(sleepForever(&cancelled[1]));
        spawnChainOfPartnerCancellers(*first, 4, &ran);
        spawnChainOfPartnerCancellers(*second, 4, &ran);
        QVERIFY(spinUntil([&] { return first->runningCount() == 1 && second->runningCount() == 1; }));
        parent.cancel();
        QVERIFY(spinUntil([&] { return !first->isActive() && !second->isActive(); }));
        QCOMPARE(ran, 0);
        QVERIFY(cancelled[0] && cancelled[1]);
    }

    void captureThatDeletesItsChildScopeDuringAParentCancel()
    {
        // A Qt object graph: a queued callable owns the object whose destructor deletes the child
        // scope the callable was spawned into (and which the cancel is walking).
        QAyo::Scope parent;
        QPointer<QAyo::Scope> child = new QAyo::Scope({.maxConcurrency = 1}, &parent);
        bool cancelled = false;
        child->asap(sleepForever(&cancelled));
        struct DeletesScope
        {
            QPointer<QAyo::Scope> scope;
            DeletesScope(QPointer<QAyo::Scope> s) : scope(std::move(s)) {}
            DeletesScope(DeletesScope &&other) noexcept : scope(std::exchange(other.scope, nullptr)) {}
            ~DeletesScope() { delete scope.data(); }
        };
        int ran = 0;
        child->asap([owner = DeletesScope(child), &ran] { ++ran; });
        child->asap([&ran] { ++ran; });
        QSignalSpy cancelling(&parent, &QAyo::Scope::cancelling);
        QVERIFY(spinUntil([&] { return child && child->runningCount() == 1; }));
        parent.cancel();
        QVERIFY(child.isNull());
        QCOMPARE(cancelling.count(), 1);
        QVERIFY(spinUntil([&] { return !parent.isActive(); }));
        QCOMPARE(ran, 0);
    }

    void handleCancelOfAQueuedTaskWhoseCaptureCancelsASiblingKeepsTheLimit()
    {
        QAyo::Scope scope({.maxConcurrency = 1});
        bool release = false;
        scope.asap(waitUntil(&release));
        int ran = 0;
        auto partner = std::make_shared<QAyo::Handle<void>>();
        auto queued = scope.asap([link = CancelsPartnerWhenDestroyed(partner), &ran] { ++ran; });
        *partner = scope.asap([&ran] { ++ran; });
        int running = 0;
        int mostRunning = 0;
        QList<QAyo::Handle<void>> later;
        for (int i = 0; i < 4; ++i) {
            later << scope.asap([&]() -> QAyo::Task<> {
                mostRunning = std::max(mostRunning, ++running);
                co_await QAyo::sleep(2ms);
                --running;
            });
        }
        QVERIFY(spinUntil([&] { return scope.runningCount() == 1; }));
        QCOMPARE(scope.pendingCount(), 6);
        queued.cancel();
        QVERIFY(queued.isCancelled());
        QVERIFY(partner->isCancelled());
        QCOMPARE(scope.pendingCount(), 4);
        QCOMPARE(scope.runningCount(), 1);
        release = true;
        QAYO_TEST_JOIN(scope);
        QCOMPARE(ran, 0);
        QCOMPARE(mostRunning, 1); // the slot the dropped tasks held is counted once
        for (const auto &h : later)
            QVERIFY(h.isFinished() && !h.isCancelled());
        QCOMPARE(scope.pendingCount(), 0);
        QCOMPARE(scope.runningCount(), 0);
        QVERIFY(!scope.isActive());
    }

    void scopeCancelWhileCapturesCancelReadyTasksKeepsCountsRight()
    {
        // Tasks posted to start (within maxConcurrency) and tasks waiting for a slot, whose
        // callables cancel one another when dropped: every count returns to zero.
        QAyo::Scope scope({.maxConcurrency = 3});
        int ran = 0;
        spawnChainOfPartnerCancellers(scope, 10, &ran);
        QCOMPARE(scope.pendingCount(), 10);
        QSignalSpy active(&scope, &QAyo::Scope::activeChanged);
        scope.cancel(); // before the ready queue ran: 3 posted to start, 7 waiting for a slot
        QCOMPARE(scope.pendingCount(), 0);
        QVERIFY(!scope.isActive());
        QAYO_TEST_JOIN(scope);
        QCOMPARE(ran, 0);
        QCOMPARE(scope.runningCount(), 0);
    }

    void onCancelThatDeletesAndCancelsThingsDuringAScopeCancel()
    {
        // onCancel is user code too: it deletes a sibling scope and cancels a queued task of
        // another scope while a cancel of the first one walks its tree.
        QAyo::Scope scope;
        auto *doomed = new QAyo::Scope({.maxConcurrency = 1}, &scope);
        QPointer<QAyo::Scope> watchDoomed(doomed);
        QAyo::Scope other({.maxConcurrency = 1});
        bool release = false;
        other.asap(waitUntil(&release));
        int ran = 0;
        auto otherQueued = other.asap([&ran] { ++ran; });
        bool doomedCancelled = false;
        doomed->asap(sleepForever(&doomedCancelled));
        QTimer timer;
        timer.setSingleShot(true);
        timer.start(1h);
        bool onCancelRan = false;
        auto h = scope.asap([&]() -> QAyo::Task<> {
            co_await QAyo::cancellable(&timer, [&] {
                onCancelRan = true;
                delete watchDoomed.data();
                otherQueued.cancel();
                timer.start(0ms); // make the foreign wait complete now
            });
        });
        QVERIFY(spinUntil([&] { return scope.runningCount() == 1 && doomed->runningCount() == 1; }));
        scope.cancel();
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        QVERIFY(onCancelRan);
        QVERIFY(watchDoomed.isNull());
        QVERIFY(otherQueued.isCancelled());
        QAYO_TEST_JOIN(scope);
        release = true;
        QAYO_TEST_JOIN(other);
        QCOMPARE(ran, 0);
        QCOMPARE(other.pendingCount(), 0);
    }
};

QTEST_GUILESS_MAIN(CancellationTest)
#include "tst_cancellation.moc"
