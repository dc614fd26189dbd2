// SPDX-License-Identifier: MIT
// Lifetime: a Scope dies with its QObject owner while tasks are suspended, running, orphaned on
// foreign awaitables, or queued. No task may resume into freed memory, touch its destroyed scope
// or owner, or leak its frame (the asan preset runs this suite under ASan and LSan).
//
// QAyo sleeps run on a manual virtual clock: "it never resumes" is checked by moving time an hour
// past every deadline at once, instead of waiting in real time. Foreign waits (QTimer, QCoro)
// stay in real time.
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QPointer>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>

#include <qcoro/qcorotimer.h>

#include <memory>

using namespace std::chrono_literals;
using namespace TestHelpers;

namespace {

QAyo::Task<int> valueAfter(std::chrono::milliseconds delay, int value)
{
    co_await QAyo::sleep(delay);
    co_return value;
}

//! What the tasks are suspended on when their scope dies.
enum class Suspension {
    Sleep,
    HandleOfTaskInOtherScope,
    HandleOfEarlierSibling,
    HandleOfLaterSibling,
    NestedBlockScopeJoin,
    CheckpointLoop,
};

enum class ForeignWait { QTimer, QCoroTask };

enum class DeletingSignal { TaskStarted, TaskFinished, TaskFailed, Cancelling, TimedOut };

} // namespace

Q_DECLARE_METATYPE(Suspension)
Q_DECLARE_METATYPE(ForeignWait)
Q_DECLARE_METATYPE(DeletingSignal)

//! A widget-like owner: its scope is a QObject child, its coroutines are member functions that
//! touch `this` after each await - the classic use-after-free if a task resumed after delete.
class Backend : public QObject
{
    Q_OBJECT
public:
    explicit Backend(int *updates) : m_updates(updates) {}

    QAyo::Scope *scope = new QAyo::Scope(this);

    QAyo::Task<> refreshAfterSleep()
    {
        co_await QAyo::sleep(100ms);
        m_text = QStringLiteral("updated"); // must never run on a deleted Backend
        ++*m_updates;
    }

    QAyo::Task<> refreshAfterTimer()
    {
        QTimer timer; // a local: QCoro resumes the task when it fires
        timer.setSingleShot(true);
        timer.start(100ms);
        co_await timer; // Cancelled is thrown here once the owner is gone
        m_text = QStringLiteral("updated");
        ++*m_updates;
    }

private:
    int *m_updates;
    QString m_text;
};

//! The documented binding: the scope is the owner's last member, so it (and every frame in it)
//! is destroyed before the owner's other members. The task's cleanup reads one of them.
class SafeOwner : public QObject
{
    Q_OBJECT
public:
    explicit SafeOwner(bool *cleanupSawText) : m_cleanupSawText(cleanupSawText) {}

    QAyo::Task<> work()
    {
        // Destroying the scope destroys this frame: its locals' destructors are the cleanup.
        struct Cleanup
        {
            SafeOwner *owner;
            ~Cleanup() { *owner->m_cleanupSawText = owner->m_text == QLatin1String("alive"); }
        } cleanup{this};
        co_await QAyo::sleep(1h);
    }

    bool *m_cleanupSawText;
    QString m_text = QStringLiteral("alive");
    QAyo::Scope scope{this}; // last: destroyed first
};

//! A scope made by a base class's constructor: while it runs, the object's type is the base.
class BackendBase : public QObject
{
public:
    QAyo::Scope *scope = new QAyo::Scope(this);
};

class DerivedBackend : public BackendBase
{
public:
    QString state;
};

class LifetimeTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    void deletingTheOwnerDestroysSuspendedTasks_data()
    {
        QTest::addColumn<Suspension>("suspension");
        QTest::addColumn<int>("liveFrames");
        QTest::newRow("QAyo::sleep") << Suspension::Sleep << 2;
        QTest::newRow("Handle of a task in another scope") << Suspension::HandleOfTaskInOtherScope << 1;
        QTest::newRow("Handle of an earlier sibling") << Suspension::HandleOfEarlierSibling << 2;
        QTest::newRow("Handle of a later sibling") << Suspension::HandleOfLaterSibling << 2;
        QTest::newRow("join of a nested block scope") << Suspension::NestedBlockScopeJoin << 2;
        QTest::newRow("checkpoint loop") << Suspension::CheckpointLoop << 1;
    }

    void deletingTheOwnerDestroysSuspendedTasks()
    {
        QFETCH(Suspension, suspension);
        QFETCH(int, liveFrames);
        const auto clock = installVirtualClock(QAyo::Test::VirtualClock::Mode::Manual);

        QAyo::Scope other; // outlives the owner
        auto otherHandle = other.asap(valueAfter(100ms, 1));

        int live = 0;    // locals alive in the owner's task frames
        int resumed = 0; // steps taken after an await
        auto owner = std::make_unique<QObject>();
        auto *scope = new QAyo::Scope(owner.get());
        QList<QAyo::Handle<void>> handles;
        QAyo::Handle<void> laterSibling;
        QAyo::Handle<void> innerHandle;

        auto sleeper = [&]() -> QAyo::Task<> {
            LiveCounter guard(&live);
            co_await QAyo::sleep(100ms);
            ++resumed;
        };
        switch (suspension) {
        case Suspension::Sleep:
            handles << scope->asap(sleeper) << scope->asap(sleeper);
            break;
        case Suspension::HandleOfTaskInOtherScope:
            handles << scope->asap([&]() -> QAyo::Task<> {
                LiveCounter guard(&live);
                co_await otherHandle;
                ++resumed;
            });
            break;
        case Suspension::HandleOfEarlierSibling: {
            auto earlier = scope->asap(sleeper);
            handles << earlier << scope->asap([&live, &resumed, earlier]() -> QAyo::Task<> {
                LiveCounter guard(&live);
                co_await earlier;
                ++resumed;
            });
            break;
        }
        case Suspension::HandleOfLaterSibling:
            handles << scope->asap([&]() -> QAyo::Task<> {
                LiveCounter guard(&live);
                co_await laterSibling;
                ++resumed;
            });
            laterSibling = scope->asap(sleeper);
            handles << laterSibling;
            break;
        case Suspension::NestedBlockScopeJoin:
            handles << scope->asap([&]() -> QAyo::Task<> {
                LiveCounter guard(&live);
                co_await QAyo::scope([&](QAyo::Scope &inner) { innerHandle = inner.asap(sleeper); });
                ++resumed;
            });
            break;
        case Suspension::CheckpointLoop:
            handles << scope->asap([&]() -> QAyo::Task<> {
                LiveCounter guard(&live);
                for (;;) {
                    co_await QAyo::checkpoint();
                    ++resumed;
                }
            });
            break;
        }
        QVERIFY(spinUntil([&] { return live == liveFrames; }));
        spinFor(2ms); // let every task reach its suspension point
        const int resumedBeforeDelete = resumed;

        owner.reset(); // deletes the scope

        QCOMPARE(live, 0); // the frames were destroyed with the scope: their locals are gone
        for (const auto &h : handles) {
            QVERIFY(h.isFinished());
            QVERIFY(h.isCancelled());
        }
        if (innerHandle.isValid())
            QVERIFY(innerHandle.isCancelled());
        clock->advance(1h); // well past the 100 ms sleeps
        // The task in the other scope is unaffected and its waiter list holds no dangling entry.
        QAYO_TEST_JOIN(other);
        QCOMPARE(otherHandle.result(), 1);
        QCOMPARE(resumed, resumedBeforeDelete);
        QCOMPARE(live, 0);
    }

    void memberCoroutinesNeverResumeIntoADeletedOwner()
    {
        const auto clock = installVirtualClock(QAyo::Test::VirtualClock::Mode::Manual);
        int updates = 0;
        auto *backend = new Backend(&updates);
        QPointer<QAyo::Scope> scope(backend->scope);
        auto h = backend->scope->asap(&Backend::refreshAfterSleep, backend);
        QVERIFY(spinUntil([&] { return backend->scope->runningCount() == 1; }));
        delete backend;
        QVERIFY(scope.isNull());
        QVERIFY(h.isCancelled());
        clock->advance(1h); // well past its 100 ms sleep
        QCOMPARE(updates, 0);
    }

    void orphanedMemberCoroutineDoesNotTouchItsDeletedOwner()
    {
        int updates = 0;
        auto *backend = new Backend(&updates);
        auto h = backend->scope->asap(&Backend::refreshAfterTimer, backend);
        QVERIFY(spinUntil([&] { return backend->scope->runningCount() == 1; }));
        delete backend;
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        QVERIFY(h.isCancelled());
        QCOMPARE(updates, 0);
    }

    void scopeDeletedFromInsideItsOwnTask_data()
    {
        QTest::addColumn<bool>("afterASleep");
        QTest::newRow("in the first step") << false;
        QTest::newRow("after a sleep") << true;
    }

    void scopeDeletedFromInsideItsOwnTask()
    {
        QFETCH(bool, afterASleep);
        QObject *owner = new QObject;
        QPointer<QObject> watch(owner);
        auto *scope = new QAyo::Scope(owner);
        int live = 0;
        bool gotCancelled = false;
        bool passedAwait = false;
        auto sibling = scope->asap([&live]() -> QAyo::Task<> {
            LiveCounter guard(&live);
            co_await QAyo::sleep(1h);
        });
        auto h = scope->asap([&]() -> QAyo::Task<> {
            LiveCounter guard(&live);
            if (afterASleep)
                co_await QAyo::sleep(2ms);
            delete owner; // deletes the scope this very task belongs to
            owner = nullptr;
            try {
                co_await QAyo::sleep(1ms);
                passedAwait = true;
            } catch (const QAyo::Cancelled &) {
                gotCancelled = true;
                throw;
            }
        });
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        QVERIFY(watch.isNull());
        QVERIFY(gotCancelled);
        QVERIFY(!passedAwait);
        QVERIFY(h.isCancelled());
        QVERIFY(sibling.isCancelled());
        QCOMPARE(live, 0);
        delete owner; // only if the task never ran (the test failed already)
    }

    void scopeDeletedWhileTaskAwaitsForeignAwaitable_data()
    {
        QTest::addColumn<ForeignWait>("wait");
        QTest::newRow("QTimer through QCoro") << ForeignWait::QTimer;
        QTest::newRow("QCoro::Task") << ForeignWait::QCoroTask;
    }

    void scopeDeletedWhileTaskAwaitsForeignAwaitable()
    {
        QFETCH(ForeignWait, wait);
        auto owner = std::make_unique<QObject>();
        auto *scope = new QAyo::Scope(owner.get());
        int live = 0;
        bool suspended = false;
        bool gotCancelled = false;
        bool passedAwait = false;
        auto qcoroWork = []() -> QCoro::Task<int> {
            QTimer timer;
            timer.setSingleShot(true);
            timer.start(100ms);
            co_await timer;
            co_return 1;
        };
        auto h = scope->asap([&]() -> QAyo::Task<> {
            LiveCounter guard(&live);
            try {
                if (wait == ForeignWait::QTimer) {
                    QTimer timer;
                    timer.setSingleShot(true);
                    timer.start(100ms);
                    suspended = true;
                    co_await timer;
                } else {
                    suspended = true;
                    co_await qcoroWork();
                }
                passedAwait = true;
            } catch (const QAyo::Cancelled &) {
                gotCancelled = true;
                throw;
            }
        });
        QVERIFY(spinUntil([&] { return suspended; }));
        owner.reset();
        // Orphaned, not destroyed: QCoro holds the coroutine and will resume it.
        QVERIFY(!h.isFinished());
        QCOMPARE(live, 1);
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        QVERIFY(gotCancelled);
        QVERIFY(!passedAwait);
        QVERIFY(h.isCancelled());
        QCOMPARE(live, 0);
    }

    void queuedWorkDeletedWithTheScopeNeverRuns_data()
    {
        QTest::addColumn<bool>("waitingForASlot");
        QTest::newRow("before the first loop turn") << false;
        QTest::newRow("waiting for a concurrency slot") << true;
    }

    void queuedWorkDeletedWithTheScopeNeverRuns()
    {
        QFETCH(bool, waitingForASlot);
        auto owner = std::make_unique<QObject>();
        auto *scope = new QAyo::Scope({.maxConcurrency = waitingForASlot ? 1 : 0}, owner.get());
        int live = 0;
        int ran = 0;
        QAyo::Handle<void> first;
        if (waitingForASlot) {
            first = scope->asap([&live]() -> QAyo::Task<> {
                LiveCounter guard(&live);
                co_await QAyo::sleep(1h);
            });
            QVERIFY(spinUntil([&] { return live == 1; }));
        }
        QList<QAyo::Handle<void>> queued;
        for (int i = 0; i < 3; ++i)
            queued << scope->asap([&ran] { ++ran; });
        auto body = [&ran]() -> QAyo::Task<> {
            ++ran;
            co_return;
        };
        queued << scope->asap(body()) << scope->asap(body); // a made frame and a lazy callable
        owner.reset();
        QCOMPARE(live, 0);
        if (first.isValid())
            QVERIFY(first.isCancelled());
        for (const auto &h : queued)
            QVERIFY(h.isCancelled());
        spinFor(30ms);
        QCOMPARE(ran, 0);
    }

    void joinerOfADeletedScopeIsReleased()
    {
        auto owner = std::make_unique<QObject>();
        auto *scope = new QAyo::Scope(owner.get());
        bool dummy = false;
        scope->asap(sleepForever(&dummy));
        QAyo::Scope joiners;
        bool passedJoin = false;
        QString error;
        auto joiner = joiners.asap([&]() -> QAyo::Task<> {
            try {
                co_await *scope;
                passedJoin = true;
            } catch (const QAyo::ScopeClosedError &e) {
                error = e.message();
            }
        });
        QVERIFY(spinUntil([&] { return joiners.runningCount() == 1 && scope->runningCount() == 1; }));
        owner.reset();
        QVERIFY(spinUntil([&] { return joiner.isFinished(); }));
        QVERIFY(!passedJoin);
        QVERIFY2(!error.isEmpty(), "the joiner must learn that the scope is gone");
        QVERIFY(!joiner.isFailed());
    }

    void scopeDeletedFromItsOwnSignal_data()
    {
        QTest::addColumn<DeletingSignal>("signal");
        QTest::newRow("taskStarted") << DeletingSignal::TaskStarted;
        QTest::newRow("taskFinished") << DeletingSignal::TaskFinished;
        QTest::newRow("taskFailed") << DeletingSignal::TaskFailed;
        QTest::newRow("cancelling") << DeletingSignal::Cancelling;
        QTest::newRow("timedOut") << DeletingSignal::TimedOut;
    }

    void scopeDeletedFromItsOwnSignal()
    {
        QFETCH(DeletingSignal, signal);
        const auto clock = installVirtualClock(QAyo::Test::VirtualClock::Mode::Manual);
        auto owner = std::make_unique<QObject>();
        const bool timeout = signal == DeletingSignal::TimedOut;
        auto *scope = new QAyo::Scope(timeout ? QAyo::ScopeOptions{.timeout = 20ms} : QAyo::ScopeOptions{},
                                      owner.get());
        QPointer<QAyo::Scope> watch(scope);
        auto deleteOwner = [&owner] { owner.reset(); };
        switch (signal) {
        case DeletingSignal::TaskStarted:
            connect(scope, &QAyo::Scope::taskStarted, this, deleteOwner);
            break;
        case DeletingSignal::TaskFinished:
            connect(scope, &QAyo::Scope::taskFinished, this, deleteOwner);
            break;
        case DeletingSignal::TaskFailed:
            connect(scope, &QAyo::Scope::taskFailed, this, deleteOwner);
            break;
        case DeletingSignal::Cancelling:
            connect(scope, &QAyo::Scope::cancelling, this, deleteOwner);
            break;
        case DeletingSignal::TimedOut:
            connect(scope, &QAyo::Scope::timedOut, this, deleteOwner);
            break;
        }
        int live = 0;
        int passed = 0;
        auto sleeper = [&]() -> QAyo::Task<> {
            LiveCounter guard(&live);
            co_await QAyo::sleep(1h);
            ++passed;
        };
        QList<QAyo::Handle<void>> handles;
        if (signal == DeletingSignal::TaskFinished)
            handles << scope->asap([] {});
        if (signal == DeletingSignal::TaskFailed)
            handles << scope->asap([] { throw std::runtime_error("deleting failure"); });
        handles << scope->asap(sleeper) << scope->asap(sleeper);
        if (signal == DeletingSignal::Cancelling) {
            QVERIFY(spinUntil([&] { return live == 2; }));
            scope->cancel();
        }
        if (timeout) {
            QVERIFY(spinUntil([&] { return live == 2; }));
            clock->advance(20ms);
        }
        QVERIFY(spinUntil([&] { return watch.isNull(); }));
        QVERIFY(!owner);
        QCOMPARE(live, 0);
        for (const auto &h : handles)
            QVERIFY(h.isFinished());
        clock->advance(2h); // past the sleepers' hour: a frame that survived would go on now
        QCOMPARE(passed, 0);
    }

    void childScopeOutlivingItsOwnersMembersIsDiagnosed()
    {
        // The unsafe binding: a child scope with running tasks, deleted by ~QObject after the
        // owner's members. Said on qayo.scope with the owner's class and the fix.
        MessageCapture capture;
        int updates = 0;
        auto *backend = new Backend(&updates);
        backend->scope->setName(QStringLiteral("downloads"));
        backend->scope->asap(backend->refreshAfterSleep());
        QVERIFY(spinUntil([&] { return backend->scope->runningCount() == 1; }));
        delete backend;
        const QStringList warnings = capture.messages("qayo.scope");
        QCOMPARE(warnings.size(), 1);
        QVERIFY2(warnings.first().contains(QLatin1String("downloads")), qPrintable(warnings.first()));
        QVERIFY2(warnings.first().contains(QLatin1String("Backend")), qPrintable(warnings.first()));
        QVERIFY2(warnings.first().contains(QLatin1String("last member")), qPrintable(warnings.first()));
        QCOMPARE(updates, 0);
    }

    void scopeAsTheOwnersLastMemberIsSafeAndSilent_data()
    {
        QTest::addColumn<bool>("withTask");
        QTest::newRow("a running task") << true;
        QTest::newRow("idle") << false;
    }

    void scopeAsTheOwnersLastMemberIsSafeAndSilent()
    {
        QFETCH(bool, withTask);
        MessageCapture capture;
        bool cleanupSawText = false;
        auto *owner = new SafeOwner(&cleanupSawText);
        if (withTask) {
            owner->scope.asap(owner->work());
            QVERIFY(spinUntil([&] { return owner->scope.runningCount() == 1; }));
        }
        delete owner;
        QCOMPARE(capture.messages("qayo.scope"), QStringList());
        QCOMPARE(cleanupSawText, withTask); // the cleanup ran with the owner's members alive
    }

    void scopeMadeInABaseConstructorAndDeletedByItsLiveOwnerIsNotDiagnosed()
    {
        // The owner is alive (its type only looked like the base while the base's constructor
        // ran): deleting the scope with a running task is no unsafe binding.
        MessageCapture capture;
        DerivedBackend owner;
        bool cancelled = false;
        owner.scope->asap(sleepForever(&cancelled));
        QVERIFY(spinUntil([&] { return owner.scope->runningCount() == 1; }));
        delete owner.scope;
        QCOMPARE(capture.messages("qayo.scope"), QStringList());
    }

    void childScopeOfAPlainQObjectIsNotDiagnosed()
    {
        // A QObject has no members of its own that the tasks could touch.
        MessageCapture capture;
        auto *owner = new QObject;
        auto *scope = new QAyo::Scope(owner);
        int frames = 0;
        scope->asap([](int *live) -> QAyo::Task<> {
            LiveCounter counter(live);
            co_await QAyo::sleep(1h);
        }(&frames));
        QVERIFY(spinUntil([&] { return scope->runningCount() == 1; }));
        QCOMPARE(frames, 1);
        delete owner;
        QCOMPARE(frames, 0); // destroyed with the scope
        QCOMPARE(capture.messages("qayo.scope"), QStringList());
    }
};

QTEST_GUILESS_MAIN(LifetimeTest)
#include "tst_lifetime.moc"
