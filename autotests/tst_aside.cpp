// SPDX-License-Identifier: MIT
// Aside work and its pool: QAyo's own FIFO per pool and the drainers that feed it to the pool's
// threads (docs/threads.md, "How aside work reaches the pool"). Start order, cancelling queued
// and single jobs, several pools, fairness to other users of a pool, QThreadPool::clear(),
// waitForDone() and deleting the pool, destroying the scope with jobs queued, a job outliving its
// scope's thread, and hand-backs that arrive while the scope's thread is busy coming home in one
// delivery.
#include "helpers.h"

#include <QAyo/Aside>
#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEvent>
#include <QTest>
#include <QThread>
#include <QThreadPool>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <vector>

using namespace std::chrono_literals;
using namespace TestHelpers;

namespace {

//! Lives on a worker thread: makes a scope there with one aside job that blocks at \a gate and
//! then throws, and destroys the scope on request. Its slots are called by name (queued), so no
//! object written by the test's thread is read on the worker without a synchronisation
//! ThreadSanitizer can see (Qt's event queue is not instrumented): the atomics are the hand-over.
class OrphaningWorker : public QObject
{
    Q_OBJECT
public:
    OrphaningWorker(QThreadPool *pool, Gate *gate, Gate *busyGate = nullptr)
        : m_pool(pool), m_gate(gate), m_busyGate(busyGate)
    {
    }
    std::atomic<bool> jobStarted { false };
    std::atomic<bool> jobReturned { false };
    std::atomic<bool> scopeDropped { false };
    std::atomic<bool> busy { false };

public Q_SLOTS:
    void spawnBlockingJob()
    {
        m_scope = std::make_unique<QAyo::Scope>(QAyo::ScopeOptions { .name = QStringLiteral("worker") });
        m_scope->asideIn(m_pool, [this] {
            jobStarted = true;
            m_gate->waitOpen();
            jobReturned = true;
            throw std::runtime_error("late failure");
        }).setName(QStringLiteral("orphan"));
    }
    void dropScope()
    {
        m_scope.reset();
        scopeDropped = true;
    }
    //! Keeps the thread busy (no event delivered) until the busy gate opens.
    void stayBusy()
    {
        busy = true;
        m_busyGate->waitOpen();
    }

private:
    QThreadPool *m_pool;
    Gate *m_gate;
    Gate *m_busyGate;
    std::unique_ptr<QAyo::Scope> m_scope;
};

//! Lives on a worker thread: makes a scope there with \a count aside jobs that block at \a gate,
//! and leaves the scope alive when the thread ends (the test deletes it afterwards). Its slot
//! is called by name (queued); the atomics are the hand-over to the test's thread.
class LeftBehindWorker : public QObject
{
    Q_OBJECT
public:
    LeftBehindWorker(QThreadPool *pool, Gate *gate, int count) : m_pool(pool), m_gate(gate), m_count(count) { }
    std::atomic<int> jobsStarted { 0 };
    std::atomic<int> jobsReturned { 0 };
    std::atomic<QAyo::Scope *> scope { nullptr };

public Q_SLOTS:
    void spawnBlockingJobs()
    {
        auto *left = new QAyo::Scope(QAyo::ScopeOptions { .name = QStringLiteral("left behind") });
        for (int i = 0; i < m_count; ++i) {
            left->asideIn(m_pool, [this] {
                ++jobsStarted;
                m_gate->waitOpen();
                ++jobsReturned;
            });
        }
        scope = left;
    }

private:
    QThreadPool *m_pool;
    Gate *m_gate;
    int m_count;
};

//! Occupies a thread of \a pool (a plain QRunnable, not QAyo's) until \a gate opens; \a started is
//! set once it runs.
void occupyThread(QThreadPool *pool, Gate *gate, std::atomic<bool> *started)
{
    pool->start([gate, started] {
        *started = true;
        gate->waitOpen();
    });
}

//! Spins this thread's loop until \a flag, set by another thread, is true (polls: no event of
//! this thread says when).
bool pollUntil(const std::function<bool()> &done, std::chrono::milliseconds deadline = 10s)
{
    return QTest::qWaitFor(done, int(deadline.count()));
}

//! Busy for about \a duration on the calling (pool) thread: a job that takes time without
//! sleeping, so that a drainer's time slice runs out during a run of such jobs.
void busyFor(std::chrono::microseconds duration)
{
    const auto end = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < end) { }
}

//! Spawns \a count jobs into \a scope on \a pool; each is busy for \a busy, then counts itself
//! in \a ran.
void spawnCounted(QAyo::Scope &scope, QThreadPool *pool, int count, std::atomic<int> *ran,
                  std::chrono::microseconds busy = 0us)
{
    for (int i = 0; i < count; ++i) {
        scope.asideIn(pool, [ran, busy] {
            busyFor(busy);
            ++*ran;
        });
    }
}

//! Counts the QEvent::MetaCall events delivered on this thread while it lives (QAyo's mail
//! arrives as queued calls).
class MetaCallCounter : public QObject
{
public:
    MetaCallCounter() { QCoreApplication::instance()->installEventFilter(this); }
    ~MetaCallCounter() override { QCoreApplication::instance()->removeEventFilter(this); }
    int count = 0;

protected:
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        if (event->type() == QEvent::MetaCall)
            ++count;
        return QObject::eventFilter(watched, event);
    }
};

} // namespace

class AsideTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    void jobsStartInTheOrderTheyWereSpawned()
    {
        QThreadPool pool;
        pool.setMaxThreadCount(1);
        std::mutex orderMutex;
        std::vector<int> order;
        constexpr int count = 300;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            for (int i = 0; i < count; ++i) {
                scope.asideIn(&pool, [&, i] {
                    std::lock_guard lock(orderMutex);
                    order.push_back(i);
                });
            }
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(int(order.size()), count);
        for (int i = 0; i < count; ++i)
            QCOMPARE(order[std::size_t(i)], i);
    }

    void aCancelledQueuedJobNeverRunsAndTheOthersDo()
    {
        QThreadPool pool;
        pool.setMaxThreadCount(1);
        Gate gate;
        std::atomic<bool> blockerStarted { false };
        std::mutex ranMutex;
        QList<int> ran;
        bool cancelledReported = false;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            scope.asideIn(&pool, [&] {
                blockerStarted = true;
                gate.waitOpen();
            });
            QList<QAyo::Handle<void>> queued;
            for (int i = 0; i < 3; ++i) {
                queued.append(scope.asideIn(&pool, [&, i] {
                    std::lock_guard lock(ranMutex);
                    ran.append(i);
                }));
            }
            while (!blockerStarted.load())
                co_await QAyo::sleep(1ms);
            queued[1].cancel();
            gate.open();
            co_await scope;
            cancelledReported
                = queued[1].isCancelled() && !queued[0].isCancelled() && !queued[2].isCancelled();
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(ran, QList<int>({ 0, 2 }));
        QVERIFY(cancelledReported);
    }

    void severalPoolsKeepTheirOwnQueues()
    {
        // Pool a's only thread is blocked: the jobs queued for pool b must not wait behind it.
        QThreadPool a;
        QThreadPool b;
        a.setMaxThreadCount(1);
        b.setMaxThreadCount(1);
        Gate gate;
        std::atomic<bool> aStarted { false };
        std::atomic<int> bRan { 0 };
        QThread *aThread = nullptr;
        QThread *bThread = nullptr;
        bool bFinishedWhileABlocked = false;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            auto onA = scope.asideIn(&a, [&] {
                aStarted = true;
                gate.waitOpen();
                return QThread::currentThread();
            });
            QList<QAyo::Handle<QThread *>> onB;
            for (int i = 0; i < 20; ++i)
                onB.append(scope.asideIn(&b, [&] {
                    ++bRan;
                    return QThread::currentThread();
                }));
            for (const auto &handle : std::as_const(onB))
                bThread = co_await handle;
            bFinishedWhileABlocked = !onA.isFinished() && bRan.load() == 20;
            gate.open();
            aThread = co_await onA;
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QVERIFY(aStarted.load());
        QVERIFY(bFinishedWhileABlocked);
        QVERIFY(aThread && bThread && aThread != bThread);
    }

    void drainersGiveThePoolBackToItsOtherUsers()
    {
        // One thread, 2000 QAyo jobs of 100 us each (about 200 ms in all). A runnable started by
        // other code while they run must not wait for all of them: QAyo's drainer hands the
        // thread back after a time slice (about ten jobs here).
        QThreadPool pool;
        pool.setMaxThreadCount(1);
        constexpr int count = 2000;
        std::atomic<int> ran { 0 };
        std::atomic<int> ranWhenOtherRan { -1 };
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            spawnCounted(scope, &pool, count, &ran, 100us);
            while (ran.load() == 0)
                co_await QAyo::sleep(1ms);
            pool.start([&] { ranWhenOtherRan = ran.load(); });
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(ran.load(), count);
        qInfo("the other runnable ran after %d of %d QAyo jobs", ranWhenOtherRan.load(), count);
        QVERIFY2(ranWhenOtherRan.load() >= 0 && ranWhenOtherRan.load() < count / 2,
                 qPrintable(QString::number(ranWhenOtherRan.load())));
    }

    void clearCancelsTheJobsWaitingForThePool()
    {
        // The pool's thread is busy with other code, so QAyo's drainer waits in the pool's queue:
        // QThreadPool::clear() removes it, and the jobs it stood for end as cancelled. The join
        // does not hang, no job runs, and the pool takes new work afterwards.
        QThreadPool pool;
        pool.setMaxThreadCount(1);
        Gate gate;
        std::atomic<bool> occupied { false };
        occupyThread(&pool, &gate, &occupied);
        QVERIFY(pollUntil([&] { return occupied.load(); }));
        std::atomic<int> ran { 0 };
        QList<QAyo::Handle<void>> cleared;
        int afterwards = 0;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            for (int i = 0; i < 5; ++i)
                cleared.append(scope.asideIn(&pool, [&] { ++ran; }));
            co_await QAyo::checkpoint(); // the jobs have started: queued for the pool
            pool.clear();
            gate.open();
            co_await scope;
            afterwards = co_await QAyo::asideIn(&pool, [] { return 7; });
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(ran.load(), 0);
        for (const auto &handle : std::as_const(cleared)) {
            QVERIFY(handle.isCancelled());
            QVERIFY_THROWS_EXCEPTION(QAyo::TaskCancelledError, handle.result());
        }
        QCOMPARE(afterwards, 7);
        QVERIFY(pool.waitForDone(10000));
    }

    void waitForDoneWaitsForQueuedJobs()
    {
        // 60 jobs of 200 us on one thread: several time slices, so the drainer re-queues itself
        // in between; waitForDone() must see QAyo's work all along.
        QThreadPool pool;
        pool.setMaxThreadCount(1);
        constexpr int count = 60;
        std::atomic<int> ran { 0 };
        int ranAfterWait = -1;
        bool waited = false;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            spawnCounted(scope, &pool, count, &ran, 200us);
            co_await QAyo::checkpoint(); // the jobs are queued for the pool
            waited = pool.waitForDone(30000);
            ranAfterWait = ran.load();
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QVERIFY(waited);
        QCOMPARE(ranAfterWait, count);
    }

    void deletingThePoolRunsItsQueuedJobsFirst()
    {
        // ~QThreadPool waits for its work: for QAyo's queued jobs too. Their hand-backs arrive
        // after it, and a pool made afterwards (maybe at the same address) works as usual.
        auto pool = std::make_unique<QThreadPool>();
        pool->setMaxThreadCount(1);
        constexpr int count = 200;
        std::atomic<int> ran { 0 };
        int ranAfterDelete = -1;
        QList<QAyo::Handle<void>> handles;
        int fromNextPool = 0;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            for (int i = 0; i < count; ++i)
                handles.append(scope.asideIn(pool.get(), [&] { ++ran; }));
            co_await QAyo::checkpoint();
            pool.reset();
            ranAfterDelete = ran.load();
            co_await scope;
            QThreadPool next;
            fromNextPool = co_await QAyo::asideIn(&next, [] { return 3; });
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(ranAfterDelete, count);
        for (const auto &handle : std::as_const(handles))
            QVERIFY(handle.isFinished() && !handle.isCancelled() && !handle.isFailed());
        QCOMPARE(fromNextPool, 3);
    }

    void destroyingTheScopeDropsQueuedJobsAndStopsTheRunningOne()
    {
        QThreadPool pool;
        pool.setMaxThreadCount(1);
        Gate gate;
        std::atomic<bool> runningStarted { false };
        std::atomic<bool> runningStopped { false };
        std::atomic<int> queuedRan { 0 };
        QList<QAyo::Handle<void>> queued;
        std::optional<QAyo::Handle<void>> running;
        {
            QAyo::Scope scope;
            running = scope.asideIn(&pool, [&](QAyo::StopToken stop) {
                runningStarted = true;
                const auto end = std::chrono::steady_clock::now() + 10s;
                while (!stop.stop_requested() && std::chrono::steady_clock::now() < end)
                    QThread::yieldCurrentThread();
                runningStopped = stop.stop_requested();
                gate.waitOpen(); // the thread stays taken until every queued job was dropped
            });
            for (int i = 0; i < 100; ++i)
                queued.append(scope.asideIn(&pool, [&] { ++queuedRan; }));
            QVERIFY(pollUntil([&] { return runningStarted.load(); }));
        } // destroyed, not joined
        gate.open();
        QVERIFY(pollUntil([&] { return running->isFinished(); }));
        QVERIFY(runningStopped.load());
        QVERIFY(pollUntil([&] {
            return std::all_of(queued.cbegin(), queued.cend(),
                               [](const auto &h) { return h.isFinished(); });
        }));
        QVERIFY(pool.waitForDone(10000));
        QCOMPARE(queuedRan.load(), 0);
        for (const auto &handle : std::as_const(queued))
            QVERIFY(handle.isCancelled());
    }

    void aJobOutlivingItsScopesThreadEndsSafely_data()
    {
        QTest::addColumn<bool>("outcomeOnItsWay");
        QTest::newRow("thread ended before the job") << false;
        QTest::newRow("outcome on its way when the thread ends") << true;
    }

    void aJobOutlivingItsScopesThreadEndsSafely()
    {
        // A worker thread's scope is destroyed while its aside job runs (a thread cannot be
        // killed: the job is orphaned), then the thread itself ends. The job finishes with an
        // error either after the thread ended (its hand-back must not go to the dead thread) or
        // while the thread is busy and told to quit (the outcome is posted there and never
        // delivered: the thread's loop is gone when the busy slot returns). Either way the job's
        // task is finished and freed (cleanup() checks), and its error is still told.
        QFETCH(bool, outcomeOnItsWay);
        QThreadPool pool;
        pool.setMaxThreadCount(1);
        Gate gate;
        Gate busyGate;
        MessageCapture capture;
        QThread worker;
        OrphaningWorker side(&pool, &gate, &busyGate);
        side.moveToThread(&worker);
        worker.start();
        QMetaObject::invokeMethod(&side, "spawnBlockingJob", Qt::QueuedConnection);
        QVERIFY(pollUntil([&] { return side.jobStarted.load(); }));
        QMetaObject::invokeMethod(&side, "dropScope", Qt::QueuedConnection);
        QVERIFY(pollUntil([&] { return side.scopeDropped.load(); }));
        if (outcomeOnItsWay) {
            QMetaObject::invokeMethod(&side, "stayBusy", Qt::QueuedConnection);
            QVERIFY(pollUntil([&] { return side.busy.load(); }));
        }
        worker.quit(); // when busy: the loop ends as soon as the busy slot returns
        if (!outcomeOnItsWay)
            QVERIFY(worker.wait(10000)); // the thread has ended
        gate.open();
        QVERIFY(pool.waitForDone(10000));
        QVERIFY(side.jobReturned.load());
        busyGate.open();
        QVERIFY(worker.wait(10000));
        QVERIFY(pollUntil([&] { return !capture.messages("qayo.scope").isEmpty(); }));
        const QString said = capture.messages("qayo.scope").join(u'\n');
        QVERIFY2(said.contains(QLatin1String("orphan")) && said.contains(QLatin1String("late failure")),
                 qPrintable(said));
    }

    void jobsFinishingAfterTheirScopesThreadEndedLeaveTheScopeAlone()
    {
        // A worker thread ends while its scope lives on (left behind) and several of the scope's
        // aside jobs still run. They finish afterwards, on several pool threads at once: the
        // scope belongs to a thread that has ended, so none of them may touch it (they would
        // race on its counts). The tasks end when the scope is finally deleted (cleanup()
        // checks that none is left).
        constexpr int count = 4;
        QThreadPool pool;
        pool.setMaxThreadCount(count);
        Gate gate;
        QThread worker;
        LeftBehindWorker side(&pool, &gate, count);
        side.moveToThread(&worker);
        worker.start();
        QMetaObject::invokeMethod(&side, "spawnBlockingJobs", Qt::QueuedConnection);
        QVERIFY(pollUntil([&] { return side.jobsStarted.load() == count; }));
        worker.quit();
        QVERIFY(worker.wait(10000));
        gate.open();
        QVERIFY(pool.waitForDone(10000));
        QCOMPARE(side.jobsReturned.load(), count);
        QAyo::Scope *left = side.scope.load();
        QVERIFY(left);
        QCOMPARE(left->runningCount(), count); // nothing ran its bookkeeping on a pool thread
        delete left; // an object of a finished thread: deleted here, and its tasks with it
        QCOMPARE(QAyo::Test::unfinishedTasks(), 0);
    }

    void handBacksWhileTheScopeThreadIsBusyArriveInOneDelivery()
    {
        // 200 jobs finish while this thread is blocked: their outcomes travel as mail, and the
        // wake-up of this thread is posted once, not once per job.
        QThreadPool pool;
        pool.setMaxThreadCount(2);
        constexpr int count = 200;
        std::atomic<int> ran { 0 };
        int deliveries = -1;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            spawnCounted(scope, &pool, count, &ran);
            co_await QAyo::checkpoint(); // the jobs are queued for the pool
            MetaCallCounter counter;
            QElapsedTimer blocked;
            blocked.start();
            while (ran.load() < count && blocked.elapsed() < 10000)
                QThread::yieldCurrentThread(); // this thread is busy: no event is delivered
            co_await scope;
            deliveries = counter.count;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(ran.load(), count);
        qInfo("%d queued calls delivered for %d hand-backs", deliveries, count);
        // One for the jobs that finished while this thread was busy, one more for each of the
        // (at most two) hand-backs that were still on their way when the count was complete;
        // the bound leaves room for a few unrelated queued calls. One per job would be 200.
        QVERIFY2(deliveries >= 1 && deliveries <= 10, qPrintable(QString::number(deliveries)));
    }
};

QTEST_GUILESS_MAIN(AsideTest)
#include "tst_aside.moc"
