// SPDX-License-Identifier: MIT
// Threads: blocking work aside on thread pools (the loop stays live, results come home, errors,
// stop tokens, dropped queued work, not counted in maxConcurrency), named executors, spawning
// and cancelling from other threads, scopes on worker threads, and handles awaited across
// threads.
#include "helpers.h"

#include <QAyo/Aside>
#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QElapsedTimer>
#include <QEventLoop>
#include <QTest>
#include <QThread>
#include <QThreadPool>

#include <memory>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using namespace TestHelpers;

namespace {

//! How many jobs run right now and the most that ever ran at once (any thread).
using Concurrency = PeakCounter;

//! Blocks the calling (pool) thread until \a stop is requested or \a limit passes; returns
//! whether stop was requested. The limit only keeps a failing test from hanging.
bool waitForStop(const QAyo::StopToken &stop, std::chrono::milliseconds limit = 10s)
{
    QElapsedTimer elapsed;
    elapsed.start();
    while (!stop.stop_requested() && elapsed.elapsed() < limit.count())
        QThread::msleep(1);
    return stop.stop_requested();
}

//! Blocks the calling thread until \a flag is true or \a limit passes; returns the flag.
bool waitForFlag(const std::atomic<bool> &flag, std::chrono::milliseconds limit = 10s)
{
    QElapsedTimer elapsed;
    elapsed.start();
    while (!flag.load() && elapsed.elapsed() < limit.count())
        QThread::msleep(1);
    return flag.load();
}

//! Spins this thread's loop until \a done, which another thread makes true: polls, because no
//! event of this thread says when (TestHelpers::spinUntil would sleep until its deadline).
bool pollUntil(const std::function<bool()> &done, std::chrono::milliseconds deadline = 10s)
{
    return QTest::qWaitFor(done, int(deadline.count()));
}

//! Waits on the task's own thread (polling its loop) until \a flag is true.
QAyo::Task<> untilSet(const std::atomic<bool> *flag)
{
    while (!flag->load())
        co_await QAyo::sleep(1ms);
}

} // namespace

//! The worker thread's end of Worker::post(): runs the queued jobs. The jobs pass through a
//! mutex and the queued call names a slot, so Qt makes the call object itself: ThreadSanitizer
//! sees the hand-over even though Qt is not instrumented.
class WorkerContext : public QObject
{
    Q_OBJECT

public:
    using QObject::QObject;
    ~WorkerContext() override
    {
        // After the thread has ended (Worker's destructor): the mutex makes its last look at
        // the queue visible before the queue goes.
        std::lock_guard lock(m_mutex);
    }

    void push(std::function<void()> job)
    {
        {
            std::lock_guard lock(m_mutex);
            m_jobs.push_back(std::move(job));
        }
        QMetaObject::invokeMethod(this, "runJobs", Qt::QueuedConnection);
    }

public Q_SLOTS:
    void runJobs()
    {
        for (;;) {
            std::function<void()> job;
            {
                std::lock_guard lock(m_mutex);
                if (m_jobs.empty())
                    return;
                job = std::move(m_jobs.front());
                m_jobs.pop_front();
            }
            job();
        }
    }

private:
    std::mutex m_mutex;
    std::deque<std::function<void()>> m_jobs;
};

namespace {

//! A running QThread with a context object on it, for scopes that live there.
class Worker
{
public:
    Worker()
    {
        m_context.moveToThread(&m_thread);
        m_thread.start();
    }
    ~Worker()
    {
        call([] {}); // whatever the worker did is visible here (ThreadSanitizer included)
        m_thread.quit();
        m_thread.wait();
    }
    Worker(const Worker &) = delete;
    Worker &operator=(const Worker &) = delete;

    QThread *thread() { return &m_thread; }

    //! A new scope living on the worker thread (created here, then moved).
    QAyo::Scope *newScope()
    {
        auto *scope = new QAyo::Scope;
        scope->moveToThread(&m_thread);
        return scope;
    }

    //! Runs \a f on the worker thread later (does not wait).
    void post(std::function<void()> f) { m_context.push(std::move(f)); }

    //! Runs \a f on the worker thread and returns its value (blocks the calling thread).
    template<typename F> auto call(F f) -> std::invoke_result_t<F &>
    {
        using R = std::invoke_result_t<F &>;
        std::mutex mutex;
        std::condition_variable cv;
        bool done = false;
        std::optional<std::conditional_t<std::is_void_v<R>, int, R>> value;
        post([&] {
            if constexpr (std::is_void_v<R>)
                f();
            else
                value.emplace(f());
            std::lock_guard lock(mutex);
            done = true;
            cv.notify_one();
        });
        std::unique_lock lock(mutex);
        cv.wait(lock, [&] { return done; });
        if constexpr (!std::is_void_v<R>)
            return std::move(*value);
    }

    //! Destroys \a scope on its (worker) thread.
    void destroy(QAyo::Scope *scope)
    {
        call([scope] { delete scope; });
    }

private:
    QThread m_thread;
    WorkerContext m_context;
};

QAyo::Task<int> valueAfter(std::chrono::milliseconds delay, int value)
{
    co_await QAyo::sleep(delay);
    co_return value;
}

//! A misuse of an aside call, given a live scope.
using ScopeMisuse = std::function<void(QAyo::Scope &)>;
//! A misuse of the Executors registry.
using Misuse = std::function<void()>;

} // namespace

Q_DECLARE_METATYPE(ScopeMisuse)
Q_DECLARE_METATYPE(Misuse)

class ThreadsTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        // The global pool has idealThreadCount() threads: make sure it can run jobs side by side
        // on a one-core machine too, so "ran concurrently" can be shown.
        QThreadPool *global = QThreadPool::globalInstance();
        global->setMaxThreadCount(std::max(4, global->maxThreadCount()));
    }

    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    // --- aside: the loop stays live, results come home ----------------------------------

    void blockingJobsLeaveTheEventLoopLive_data()
    {
        QTest::addColumn<bool>("ownPool");
        QTest::newRow("aside (global pool)") << false;
        QTest::newRow("asideIn (own pool of 10)") << true;
    }

    void blockingJobsLeaveTheEventLoopLive()
    {
        QFETCH(bool, ownPool);
        QThreadPool pool;
        pool.setMaxThreadCount(10);
        Concurrency concurrency;
        std::atomic<int> finished { 0 };
        std::mutex threadsMutex;
        std::vector<QThread *> jobThreads;

        // A 5 ms timer on this (the scope's) thread: the largest gap between its ticks shows how
        // long the loop was blocked.
        QTimer ticker;
        ticker.setTimerType(Qt::PreciseTimer);
        ticker.setInterval(5ms);
        QElapsedTimer sinceTick;
        qint64 largestGap = 0;
        std::atomic<int> ticks { 0 };
        connect(&ticker, &QTimer::timeout, this, [&] {
            largestGap = std::max(largestGap, sinceTick.restart());
            ++ticks;
        });

        auto job = [&] {
            concurrency.enter();
            {
                std::lock_guard lock(threadsMutex);
                jobThreads.push_back(QThread::currentThread());
            }
            QThread::msleep(150);
            // Stay blocked until the loop has ticked ten times (bounded): on a loaded machine
            // ten jobs on ten threads can all end within fewer ticks than that.
            QElapsedTimer blocked;
            blocked.start();
            while (ticks.load() < 10 && blocked.elapsed() < 10000)
                QThread::msleep(5);
            concurrency.leave();
            ++finished;
        };
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            for (int i = 0; i < 10; ++i) {
                if (ownPool)
                    scope.asideIn(&pool, job);
                else
                    scope.aside(job);
            }
            co_await scope;
        };
        sinceTick.start();
        ticker.start();
        QAYO_TEST_RUN(body());
        ticker.stop();

        QCOMPARE(finished.load(), 10);
        // A job run on this thread would block the loop for 150 ms at least. The bound is
        // generous because sanitizer builds on a loaded machine see 40 ms gaps between ticks
        // of a free loop; an idle dev build sees about 6 ms.
        qInfo("largest gap between 5 ms ticks: %lld ms", largestGap);
        QVERIFY2(largestGap < 100,
                 qPrintable(QStringLiteral("the loop was blocked for %1 ms").arg(largestGap)));
        QVERIFY2(ticks.load() >= 10, qPrintable(QString::number(ticks.load())));
        QVERIFY2(concurrency.peak.load() >= 2,
                 qPrintable(QString::number(concurrency.peak.load())));
        QCOMPARE(int(jobThreads.size()), 10);
        for (QThread *thread : jobThreads)
            QVERIFY(thread != QThread::currentThread());
    }

    void resultsArriveOnTheScopeThread()
    {
        QThread *ranOn = nullptr;
        QThread *resumedOn = nullptr;
        QThread *freeFormRanOn = nullptr;
        QThread *freeFormResumedOn = nullptr;
        int value = 0;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            auto handle
                = scope.aside([](int x) { return std::pair(QThread::currentThread(), x * 2); }, 21);
            const auto [thread, doubled] = co_await handle;
            ranOn = thread;
            value = doubled;
            resumedOn = QThread::currentThread();
            freeFormRanOn = co_await QAyo::aside([] { return QThread::currentThread(); });
            freeFormResumedOn = QThread::currentThread();
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(value, 42);
        QVERIFY(ranOn && ranOn != QThread::currentThread());
        QCOMPARE(resumedOn, QThread::currentThread());
        QVERIFY(freeFormRanOn && freeFormRanOn != QThread::currentThread());
        QCOMPARE(freeFormResumedOn, QThread::currentThread());
    }

    void errorInAsideFunctionReachesTheJoinAndCancelsSiblings()
    {
        std::atomic<bool> siblingStopped { false };
        bool sleeperCancelled = false;
        QString joinError;
        QStringList errors;
        bool handleFailed = false;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            scope.asap(sleepForever(&sleeperCancelled));
            scope.aside([&](QAyo::StopToken stop) { siblingStopped = waitForStop(stop); });
            auto failing = scope.aside([] {
                QThread::msleep(10);
                throw std::runtime_error("aside failed");
            });
            try {
                co_await scope;
            } catch (const std::runtime_error &e) {
                joinError = QString::fromUtf8(e.what());
            }
            errors = scope.errorMessages();
            handleFailed = failing.isFailed();
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(joinError, QStringLiteral("aside failed"));
        QCOMPARE(errors, QStringList { QStringLiteral("aside failed") });
        QVERIFY(handleFailed);
        QVERIFY(siblingStopped.load());
        QVERIFY(sleeperCancelled);
    }

    void awaitingAFailedAsideRethrowsItsError()
    {
        QString caught;
        QString joinCaught;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            auto handle
                = scope.aside([]() -> int { throw std::invalid_argument("bad input in f"); });
            try {
                co_await handle;
            } catch (const std::invalid_argument &e) {
                caught = QString::fromUtf8(e.what());
            }
            try {
                co_await scope;
            } catch (const std::invalid_argument &e) {
                joinCaught = QString::fromUtf8(e.what());
            }
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(caught, QStringLiteral("bad input in f"));
        QCOMPARE(joinCaught, QStringLiteral("bad input in f"));
    }

    // --- stop tokens and dropped work -----------------------------------------------------

    void stopIsRequestedOnCancelAndTimeout_data()
    {
        QTest::addColumn<QString>("how");
        QTest::newRow("scope.cancel()") << QStringLiteral("cancel");
        QTest::newRow("scope timeout") << QStringLiteral("timeout");
        QTest::newRow("handle.cancel()") << QStringLiteral("handle");
        QTest::newRow("parent scope cancelled") << QStringLiteral("parent");
    }

    void stopIsRequestedOnCancelAndTimeout()
    {
        QFETCH(QString, how);
        QThreadPool pool; // its own: nothing else queued in front of the job
        std::atomic<bool> started { false };
        std::atomic<bool> stopSeen { false };
        bool timedOut = false;
        bool finished = false;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::ScopeOptions options;
            if (how == QLatin1String("timeout"))
                options.timeout = 300ms;
            QAyo::Scope outer;
            auto *scope = new QAyo::Scope(options, &outer);
            auto handle = scope->asideIn(&pool, [&](std::stop_token stop) {
                started = true;
                stopSeen = waitForStop(stop);
            });
            co_await untilSet(&started);
            if (how == QLatin1String("cancel"))
                scope->cancel();
            else if (how == QLatin1String("handle"))
                handle.cancel();
            else if (how == QLatin1String("parent"))
                outer.cancel();
            co_await *scope;
            timedOut = scope->isTimedOut();
            finished = handle.isFinished();
        };
        QAYO_TEST_RUN(body());
        QVERIFY(started.load());
        QVERIFY(stopSeen.load());
        QVERIFY(finished);
        QCOMPARE(timedOut, how == QLatin1String("timeout"));
    }

    void whatTheFunctionDoesAfterAStopDecidesTheOutcome_data()
    {
        QTest::addColumn<QString>("reaction");
        QTest::addColumn<QString>("outcome");
        QTest::newRow("returns a value") << QStringLiteral("return") << QStringLiteral("value 7");
        QTest::newRow("throws QAyo::Cancelled")
            << QStringLiteral("cancelled") << QStringLiteral("cancelled");
        QTest::newRow("throws an error") << QStringLiteral("error") << QStringLiteral("failed");
    }

    void whatTheFunctionDoesAfterAStopDecidesTheOutcome()
    {
        QFETCH(QString, reaction);
        QFETCH(QString, outcome);
        std::atomic<bool> started { false };
        QString seen;
        QString joinError;
        QStringList errors;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            auto handle = scope.aside([&](QAyo::StopToken stop) {
                started = true;
                waitForStop(stop);
                if (reaction == QLatin1String("cancelled"))
                    throw QAyo::Cancelled {};
                if (reaction == QLatin1String("error"))
                    throw std::runtime_error("failed while stopping");
                return 7;
            });
            co_await untilSet(&started);
            scope.cancel();
            try {
                co_await scope;
            } catch (const std::runtime_error &e) {
                joinError = QString::fromUtf8(e.what()); // errors beat cancellation
            }
            if (handle.isCancelled())
                seen = QStringLiteral("cancelled");
            else if (handle.isFailed())
                seen = QStringLiteral("failed");
            else
                seen = QStringLiteral("value %1").arg(handle.result());
            errors = scope.errorMessages();
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(seen, outcome);
        if (reaction == QLatin1String("error")) {
            QCOMPARE(joinError, QStringLiteral("failed while stopping"));
            QCOMPARE(errors, QStringList { joinError });
        } else {
            QVERIFY(joinError.isNull());
            QVERIFY(errors.isEmpty());
        }
    }

    void aFunctionThatNeverAsksForStopIsWaitedFor()
    {
        // A thread cannot be killed: the join waits until f returns, cancelled or not.
        std::atomic<bool> returned { false };
        bool returnedBeforeJoin = false;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            scope.aside([&] {
                QThread::msleep(100);
                returned = true;
            });
            co_await QAyo::sleep(10ms);
            scope.cancel();
            co_await scope;
            returnedBeforeJoin = returned.load();
        };
        QAYO_TEST_RUN(body());
        QVERIFY(returnedBeforeJoin);
    }

    void queuedAsideWorkIsDroppedOnCancel()
    {
        QThreadPool pool;
        pool.setMaxThreadCount(1);
        std::atomic<bool> blockerStarted { false };
        std::atomic<int> queuedRan { 0 };
        QList<QAyo::Handle<void>> queued;
        std::optional<QAyo::Handle<void>> blocker;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            blocker = scope.asideIn(&pool, [&](QAyo::StopToken stop) {
                blockerStarted = true;
                waitForStop(stop);
            });
            for (int i = 0; i < 4; ++i)
                queued.append(scope.asideIn(&pool, [&] { ++queuedRan; }));
            co_await untilSet(&blockerStarted);
            scope.cancel();
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QVERIFY(pool.waitForDone(5000));
        QCOMPARE(queuedRan.load(), 0);
        for (const auto &handle : std::as_const(queued)) {
            QVERIFY(handle.isCancelled());
            QVERIFY_THROWS_EXCEPTION(QAyo::TaskCancelledError, handle.result());
        }
        QVERIFY(blocker->isFinished());
        QVERIFY(!blocker->isCancelled()); // it ran: it returned after noticing the stop
    }

    void cancelDropsQueuedAsideWorkBeforeStoppingRunningWork()
    {
        // The running job returns the moment it sees the stop request, and its pool thread then
        // takes the next job of the pool's FIFO at once. A cancel that stopped running work
        // before it took back the queued jobs (here: of a nested scope, cancelled after its
        // parent) let that thread start them: they must never run.
        for (int round = 0; round < 20; ++round) {
            QThreadPool pool;
            pool.setMaxThreadCount(1);
            std::atomic<bool> blockerStarted { false };
            std::atomic<int> queuedRan { 0 };
            auto body = [&]() -> QAyo::Task<> {
                QAyo::Scope outer;
                QAyo::Scope inner(QAyo::ScopeOptions {}, &outer);
                outer.asideIn(&pool, [&](QAyo::StopToken stop) {
                    blockerStarted = true;
                    while (!stop.stop_requested()) { } // returns within nanoseconds of the stop
                });
                for (int i = 0; i < 50; ++i)
                    inner.asideIn(&pool, [&] { ++queuedRan; });
                co_await untilSet(&blockerStarted);
                outer.cancel();
                co_await inner;
                co_await outer;
            };
            QAYO_TEST_RUN(body());
            QVERIFY(pool.waitForDone(5000));
            QCOMPARE(queuedRan.load(), 0);
        }
    }

    void asideIsNotCountedAgainstMaxConcurrency()
    {
        QThreadPool pool;
        pool.setMaxThreadCount(3);
        Concurrency concurrency;
        std::atomic<int> arrived { 0 };
        std::atomic<bool> allThree { false };
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope({ .maxConcurrency = 1 });
            // Holds the only slot until the three aside jobs have all been running at once.
            scope.asap([&]() -> QAyo::Task<> { co_await untilSet(&allThree); });
            for (int i = 0; i < 3; ++i) {
                scope.asideIn(&pool, [&] {
                    concurrency.enter();
                    if (++arrived == 3)
                        allThree = true;
                    waitForFlag(allThree, 5s);
                    concurrency.leave();
                });
            }
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QVERIFY(allThree.load());
        QCOMPARE(concurrency.peak.load(), 3);
    }

    // --- executors ------------------------------------------------------------------------

    void namedPoolWithTwoThreadsNeverRunsThreeAtOnce()
    {
        const QString name = QStringLiteral("tst_threads.two");
        QThreadPool *pool = QAyo::Executors::create(name, 2);
        QCOMPARE(pool->maxThreadCount(), 2);
        Concurrency concurrency;
        std::atomic<int> ran { 0 };
        auto job = [&] {
            concurrency.enter();
            QThread::msleep(20);
            concurrency.leave();
            ++ran;
        };
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            for (int i = 0; i < 7; ++i)
                scope.asideIn(name, job);
            co_await QAyo::asideIn(name, job); // the free form, in Test::run's scope
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QVERIFY(QAyo::Executors::remove(name));
        QCOMPARE(ran.load(), 8);
        QCOMPARE(concurrency.peak.load(), 2);
    }

    void unknownExecutorAndNullPoolAreInvalidArgument_data()
    {
        QTest::addColumn<ScopeMisuse>("misuse");
        QTest::addColumn<QString>("named");
        auto f = [] {};
        QTest::newRow("scope.asideIn(unknown name)")
            << ScopeMisuse([f](QAyo::Scope &s) { s.asideIn(QStringLiteral("no-such-pool"), f); })
            << QStringLiteral("'no-such-pool'");
        QTest::newRow("scope.asideIn(null pool)") << ScopeMisuse([f](QAyo::Scope &s) {
            s.asideIn(static_cast<QThreadPool *>(nullptr), f);
        }) << QStringLiteral("pool is null");
        QTest::newRow("QAyo::asideIn(unknown name)") << ScopeMisuse([f](QAyo::Scope &) {
            static_cast<void>(QAyo::asideIn(QStringLiteral("no-such-pool"), f));
        }) << QStringLiteral("'no-such-pool'");
        QTest::newRow("QAyo::asideIn(null pool)") << ScopeMisuse([f](QAyo::Scope &) {
            static_cast<void>(QAyo::asideIn(static_cast<QThreadPool *>(nullptr), f));
        }) << QStringLiteral("pool is null");
    }

    void unknownExecutorAndNullPoolAreInvalidArgument()
    {
        QFETCH(ScopeMisuse, misuse);
        QFETCH(QString, named);
        QAyo::Scope scope;
        QString message;
        try {
            misuse(scope);
            QFAIL("no exception");
        } catch (const QAyo::InvalidArgument &e) {
            message = e.message();
        }
        QVERIFY2(message.contains(named), qPrintable(message));
        QVERIFY(!scope.isActive());
    }

    void asideIntoAFinishedScopeIsScopeClosedError()
    {
        QAyo::Scope scope;
        auto join = [&]() -> QAyo::Task<> { co_await scope; };
        QAYO_TEST_RUN(join());
        QVERIFY_THROWS_EXCEPTION(QAyo::ScopeClosedError, scope.aside([] {}));
    }

    void executorsCreateFindRemove()
    {
        const QString owned = QStringLiteral("tst_threads.owned");
        const QString added = QStringLiteral("tst_threads.added");
        QThreadPool *pool = QAyo::Executors::create(owned, 3);
        QVERIFY(pool);
        QCOMPARE(pool->maxThreadCount(), 3);
        QCOMPARE(pool->objectName(), owned);
        QCOMPARE(QAyo::Executors::find(owned), pool);
        QCOMPARE(QAyo::Executors::get(owned), pool);

        QThreadPool mine;
        QAyo::Executors::add(added, &mine);
        QCOMPARE(QAyo::Executors::find(added), &mine);
        QStringList names = QAyo::Executors::names();
        QVERIFY(names.contains(owned) && names.contains(added));

        QVERIFY(QAyo::Executors::remove(owned));
        QVERIFY(!QAyo::Executors::find(owned));
        QVERIFY(!QAyo::Executors::remove(owned));
        QVERIFY(QAyo::Executors::remove(added));
        QVERIFY(!QAyo::Executors::find(added));
        QCOMPARE(mine.maxThreadCount(), QThread::idealThreadCount()); // not deleted: not owned
        names = QAyo::Executors::names();
        QVERIFY(!names.contains(owned) && !names.contains(added));
        QVERIFY(!QAyo::Executors::find(QString()));
    }

    void addedPoolIsUnregisteredWhenDeleted()
    {
        const QString name = QStringLiteral("tst_threads.deleted");
        auto *pool = new QThreadPool;
        QAyo::Executors::add(name, pool);
        QCOMPARE(QAyo::Executors::find(name), pool);
        // Deleted on another thread: the registry is thread-safe, so is the unregistering.
        std::unique_ptr<QThread> thread(QThread::create([pool] { delete pool; }));
        thread->start();
        QVERIFY(thread->wait(5000));
        QVERIFY(!QAyo::Executors::find(name));
        QVERIFY(!QAyo::Executors::names().contains(name));
        QAyo::Scope scope;
        try {
            scope.asideIn(name, [] { return 1; });
            QFAIL("asideIn on a deleted pool's name did not throw");
        } catch (const QAyo::InvalidArgument &e) {
            QVERIFY2(e.message().contains(name), qPrintable(e.message()));
        }
        QVERIFY(!QAyo::Executors::remove(name));
    }

    void deletingAnUnregisteredPoolLeavesItsNameAlone()
    {
        // The name was removed and given to another pool: deleting the first pool must not
        // unregister the second.
        const QString name = QStringLiteral("tst_threads.reused");
        auto first = std::make_unique<QThreadPool>();
        QThreadPool second;
        QAyo::Executors::add(name, first.get());
        QVERIFY(QAyo::Executors::remove(name));
        QAyo::Executors::add(name, &second);
        first.reset();
        QCOMPARE(QAyo::Executors::find(name), &second);
        QVERIFY(QAyo::Executors::remove(name));
    }

    void executorsRejectBadInput_data()
    {
        QTest::addColumn<Misuse>("misuse");
        QTest::addColumn<QString>("named");
        static QThreadPool spare;
        QTest::newRow("create: empty name") << Misuse([] { QAyo::Executors::create(QString(), 1); })
                                            << QStringLiteral("name is empty");
        QTest::newRow("create: 0 threads")
            << Misuse([] { QAyo::Executors::create(QStringLiteral("tst_threads.zero"), 0); })
            << QStringLiteral("got 0");
        QTest::newRow("create: -3 threads")
            << Misuse([] { QAyo::Executors::create(QStringLiteral("tst_threads.neg"), -3); })
            << QStringLiteral("got -3");
        QTest::newRow("create: taken name")
            << Misuse([] { QAyo::Executors::create(QStringLiteral("tst_threads.taken"), 1); })
            << QStringLiteral("'tst_threads.taken' exists already");
        QTest::newRow("add: null pool")
            << Misuse([] { QAyo::Executors::add(QStringLiteral("tst_threads.null"), nullptr); })
            << QStringLiteral("pool for 'tst_threads.null' is null");
        QTest::newRow("add: empty name") << Misuse([] { QAyo::Executors::add(QString(), &spare); })
                                         << QStringLiteral("name is empty");
        QTest::newRow("add: taken name")
            << Misuse([] { QAyo::Executors::add(QStringLiteral("tst_threads.taken"), &spare); })
            << QStringLiteral("'tst_threads.taken' exists already");
        QTest::newRow("get: unknown name")
            << Misuse([] { QAyo::Executors::get(QStringLiteral("tst_threads.unknown")); })
            << QStringLiteral("'tst_threads.unknown'");
    }

    void executorsRejectBadInput()
    {
        QFETCH(Misuse, misuse);
        QFETCH(QString, named);
        const QString taken = QStringLiteral("tst_threads.taken");
        QAyo::Executors::create(taken, 1);
        const QStringList before = QAyo::Executors::names();
        QString message;
        try {
            misuse();
        } catch (const QAyo::InvalidArgument &e) {
            message = e.message();
        }
        QStringList after = QAyo::Executors::names();
        QVERIFY(QAyo::Executors::remove(taken));
        QVERIFY2(message.contains(named), qPrintable(message));
        after.sort();
        QStringList expected = before;
        expected.sort();
        QCOMPARE(after, expected); // nothing registered by a failed call
        QVERIFY(QAyo::Executors::find(taken) == nullptr);
    }

    void executorsAreThreadSafe()
    {
        std::vector<std::thread> threads;
        std::atomic<int> failures { 0 };
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([t, &failures] {
                for (int i = 0; i < 100; ++i) {
                    const QString name = QStringLiteral("tst_threads.race.%1.%2").arg(t).arg(i);
                    QThreadPool *pool = QAyo::Executors::create(name, 1);
                    if (QAyo::Executors::find(name) != pool
                        || !QAyo::Executors::names().contains(name))
                        ++failures;
                    if (!QAyo::Executors::remove(name) || QAyo::Executors::find(name))
                        ++failures;
                }
            });
        }
        for (auto &thread : threads)
            thread.join();
        QCOMPARE(failures.load(), 0);
        for (const QString &name : QAyo::Executors::names())
            QVERIFY2(!name.startsWith(QLatin1String("tst_threads.race.")), qPrintable(name));
    }

    // --- spawning, cancelling and scheduling from other threads --------------------------

    void spawnFromAnotherThreadRunsTheTask()
    {
        QAyo::Scope scope;
        QThread *ranOn = nullptr;
        std::optional<QAyo::Handle<int>> handle;
        std::thread spawner([&] {
            handle = scope.asap([&ranOn] {
                ranOn = QThread::currentThread();
                return 42;
            });
        });
        spawner.join();
        QVERIFY(spinUntil([&] { return handle->isFinished(); }));
        QVERIFY2(!handle->isCancelled(), "the spawned task was cancelled instead of run");
        QCOMPARE(handle->result(), 42);
        QCOMPARE(ranOn, QThread::currentThread());
        QVERIFY(spinUntil([&] { return !scope.isActive(); }));
    }

    void joinWaitsForASpawnMadeFromAnotherThreadBeforeIt()
    {
        QAyo::Scope scope;
        bool ran = false;
        std::optional<QAyo::Handle<void>> handle;
        auto body = [&]() -> QAyo::Task<> {
            // Fixes the order of events (else it depends on the ready queue's time budget): this
            // spawn queues the ready queue's next drain before the other thread's hand-over.
            QAyo::Scope other;
            other.asap([] {});
            std::thread spawner([&] { handle = scope.asap([&ran] { ran = true; }); });
            spawner.join();
            co_await scope; // the spawn happened before the join: the join waits for the task
            co_await other;
        };
        QAYO_TEST_RUN(body());
        QVERIFY(handle->isFinished());
        QVERIFY2(!handle->isCancelled(), "the task was dropped: the join did not wait for it");
        QVERIFY(ran);
    }

    void spawnFromFourThreadsLosesNone()
    {
        QAyo::Scope scope;
        int ran = 0; // only the scope's (this) thread touches it
        std::vector<std::vector<QAyo::Handle<void>>> handles(4);
        auto produce = [&](int t) {
            handles[t].reserve(2500);
            for (int i = 0; i < 2500; ++i) {
                if (t % 2 == 0) {
                    handles[t].push_back(scope.asap([&ran] { ++ran; }));
                } else {
                    handles[t].push_back(scope.asap([&ran]() -> QAyo::Task<> {
                        ++ran;
                        co_return;
                    }));
                }
            }
        };
        // A task hands the scope to four producer threads, waits until they have all returned,
        // then joins: every spawn happened before the join, so the join waits for every task.
        auto body = [&]() -> QAyo::Task<> {
            std::vector<std::thread> producers;
            for (int t = 0; t < 4; ++t)
                producers.emplace_back(produce, t);
            for (auto &producer : producers)
                producer.join();
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(ran, 10000);
        int succeeded = 0;
        for (const auto &list : handles) {
            for (const auto &handle : list)
                succeeded += handle.isFinished() && !handle.isCancelled() && !handle.isFailed();
        }
        QCOMPARE(succeeded, 10000);
    }

    void cancelAndAfterFromAnotherThreadTakeEffectOnTheScopeThread()
    {
        QAyo::Scope scope;
        bool sleeperCancelled = false;
        QThread *afterRanOn = nullptr;
        QThread *cancellingOn = nullptr;
        connect(&scope, &QAyo::Scope::cancelling, this,
                [&] { cancellingOn = QThread::currentThread(); });
        auto sleeper = scope.asap(sleepForever(&sleeperCancelled));
        QVERIFY(spinUntil([&] { return scope.runningCount() == 1; }));

        std::thread scheduler(
            [&] { scope.after(10ms, [&] { afterRanOn = QThread::currentThread(); }); });
        scheduler.join();
        QVERIFY(spinUntil([&] { return afterRanOn != nullptr; }));
        QCOMPARE(afterRanOn, QThread::currentThread());
        QVERIFY(!sleeper.isFinished());

        std::thread canceller([&] { scope.cancel(); });
        canceller.join();
        QVERIFY(spinUntil([&] { return sleeper.isFinished(); }));
        QVERIFY(sleeperCancelled);
        QVERIFY(sleeper.isCancelled());
        QVERIFY(scope.isCancelled());
        QCOMPARE(cancellingOn, QThread::currentThread());
    }

    void handleCancelFromAnotherThreadCancelsASleepingTask()
    {
        QAyo::Scope scope;
        bool sleeperCancelled = false;
        auto sleeper = scope.asap(sleepForever(&sleeperCancelled));
        auto sibling = scope.asap(valueAfter(20ms, 7));
        QVERIFY(spinUntil([&] { return scope.runningCount() == 2; }));

        std::thread canceller([sleeper] { sleeper.cancel(); });
        canceller.join();
        QAYO_TEST_JOIN(scope); // returns: the sleeper ended on the scope's thread
        QVERIFY(sleeperCancelled);
        QVERIFY(sleeper.isCancelled());
        QCOMPARE(sibling.result(), 7); // only that task was cancelled
        QVERIFY(!scope.isCancelled());
    }

    void handleCancelFromTheMainThreadCancelsATaskOfAWorker()
    {
        Worker worker;
        QAyo::Scope *remote = worker.newScope();
        std::atomic<bool> started { false };
        auto handle = worker.call([&] {
            return remote->asap([&started]() -> QAyo::Task<> {
                started = true;
                co_await QAyo::sleep(1h);
            });
        });
        QVERIFY(waitForFlag(started));
        handle.cancel(); // this thread is not the task's
        QVERIFY(pollUntil([&] { return handle.isFinished(); }));
        QVERIFY(handle.isCancelled());
        QCOMPARE(worker.call([remote] { return remote->isCancelled(); }), false);
        worker.destroy(remote);
    }

    void handleCancelWhileTheSpawnTravelsDropsTheTask()
    {
        // Spawned from another thread and cancelled there at once: the task is still on its
        // way to the scope's thread. It must never start.
        QAyo::Scope scope;
        std::atomic<bool> ran { false };
        std::optional<QAyo::Handle<void>> handle;
        std::thread spawner([&] {
            handle = scope.asap([&ran] { ran = true; });
            handle->cancel();
        });
        spawner.join();
        QAYO_TEST_JOIN(scope);
        QVERIFY(handle->isFinished());
        QVERIFY(handle->isCancelled());
        QVERIFY2(!ran, "the task cancelled on its way to the scope ran all the same");
        QVERIFY(!scope.isCancelled());
    }

    void handleCancelOnTheScopeThreadWhileTheSpawnTravelsDropsTheTask()
    {
        QAyo::Scope scope;
        std::atomic<bool> ran { false };
        std::optional<QAyo::Handle<void>> handle;
        std::thread spawner([&] { handle = scope.asap([&ran] { ran = true; }); });
        spawner.join();
        handle->cancel(); // on the scope's thread, before the spawn arrived (no event ran yet)
        QAYO_TEST_JOIN(scope);
        QVERIFY(handle->isCancelled());
        QVERIFY2(!ran, "the task cancelled on its way to the scope ran all the same");
    }

    void scheduledSwitchesFromAnotherThreadStopTheCallback_data()
    {
        QTest::addColumn<bool>("cancel");
        QTest::newRow("unschedule") << false;
        QTest::newRow("cancel") << true;
    }

    void scheduledSwitchesFromAnotherThreadStopTheCallback()
    {
        QFETCH(bool, cancel);
        QAyo::Scope scope;
        int calls = 0; // the scope's (this) thread only
        auto ticking = scope.every(2ms, [&calls] { ++calls; });
        QVERIFY(spinUntil([&] { return calls >= 2; }));

        std::thread other([ticking, cancel]() mutable {
            if (cancel)
                ticking.cancel();
            else
                ticking.unschedule();
        });
        other.join();
        QAYO_TEST_JOIN(scope); // returns: the every no longer holds the exit
        QVERIFY(!ticking.isActive());
        const int callsAtJoin = calls;
        QTest::qWait(30); // fifteen periods: an every still armed would have been called
        QCOMPARE(calls, callsAtJoin);
        QVERIFY(!scope.isCancelled());
    }

    void scheduledCancelFromAnotherThreadCancelsTheRunningCall()
    {
        QAyo::Scope scope;
        int calls = 0;
        bool callCancelled = false;
        auto ticking = scope.every(2ms, [&]() -> QAyo::Task<> {
            ++calls;
            co_await sleepForever(&callCancelled); // later ticks overlap it: skipped
        });
        QVERIFY(spinUntil([&] { return calls == 1 && ticking.skippedTicks() > 0; }));

        std::thread canceller([ticking]() mutable { ticking.cancel(); });
        canceller.join();
        QAYO_TEST_JOIN(scope);
        QVERIFY(callCancelled);
        QCOMPARE(calls, 1);
        QVERIFY(!ticking.isActive());
    }

    void unscheduleBeforeTheScheduleReachedItsScopeStopsIt()
    {
        // every() and unschedule() on another thread: the schedule starts on the scope's thread
        // later. The unschedule must not be lost on the way.
        QAyo::Scope scope;
        std::atomic<int> calls { 0 };
        QAyo::Scheduled ticking;
        std::thread other([&] {
            ticking = scope.every(1ms, [&calls] { ++calls; });
            ticking.unschedule();
        });
        other.join();
        QAYO_TEST_JOIN(scope); // it held the exit for nothing if the unschedule was lost
        QTest::qWait(20);
        QCOMPARE(calls.load(), 0);
        QVERIFY(!ticking.isActive());
    }

    void dontHoldExitFromAnotherThreadLetsTheJoinReturn_data()
    {
        QTest::addColumn<bool>("madeThere");
        QTest::newRow("made on the other thread") << true;
        QTest::newRow("made on the scope's thread") << false;
    }

    void dontHoldExitFromAnotherThreadLetsTheJoinReturn()
    {
        QFETCH(bool, madeThere);
        QAyo::Scope scope;
        std::atomic<bool> called { false };
        QAyo::Scheduled farAway;
        if (!madeThere)
            farAway = scope.after(1h, [&called] { called = true; });
        std::thread other([&] {
            if (madeThere)
                farAway = scope.after(1h, [&called] { called = true; }).dontHoldExit();
            else
                farAway.dontHoldExit();
        });
        other.join();
        QAYO_TEST_JOIN(scope); // hangs (fails after 10 s) if the after still holds the exit
        QVERIFY(!called);
        QVERIFY(!farAway.isActive()); // the finished scope ended it
    }

    void dontHoldExitOnTheScopeThreadBeforeTheScheduleArrived()
    {
        // Made on another thread, switched on the scope's thread before its start got there:
        // the exit hold must be counted once, and released once.
        QAyo::Scope scope;
        QAyo::Scheduled farAway;
        std::thread other([&] { farAway = scope.after(1h, [] {}); });
        other.join();
        farAway.dontHoldExit(); // no event ran yet: the after() has not reached the scope
        QAYO_TEST_JOIN(scope);
        QVERIFY(!farAway.isActive());
    }

    void scheduledGettersWorkFromAnotherThread()
    {
        QAyo::Scope scope;
        auto ticking = scope.every(1h, [] {});
        bool active = false;
        bool holds = false;
        bool hasDue = false;
        int skipped = -1;
        std::thread reader([&] {
            active = ticking.isActive();
            holds = ticking.holdsExit();
            hasDue = ticking.nextDue().has_value();
            skipped = ticking.skippedTicks();
        });
        reader.join();
        QVERIFY(active);
        QVERIFY(holds);
        QVERIFY(hasDue);
        QCOMPARE(skipped, 0);
        ticking.cancel();
        QAYO_TEST_JOIN(scope);
    }

    void setNameFromAnotherThreadIsInvalidState()
    {
        QAyo::Scope scope;
        auto handle = scope.asap(valueAfter(1ms, 1));
        QString error;
        std::thread other([&] {
            try {
                handle.setName(QStringLiteral("elsewhere"));
            } catch (const QAyo::InvalidStateError &e) {
                error = QString::fromUtf8(e.what());
            }
        });
        other.join();
        QVERIFY2(error.contains(QLatin1String("Handle::setName()")), qPrintable(error));
        handle.setName(QStringLiteral("here"));
        QCOMPARE(handle.name(), QStringLiteral("here"));
        QAYO_TEST_JOIN(scope);
    }

    void scopeMovedToAWorkerThreadRunsItsTasksThere()
    {
        Worker worker;
        QAyo::Scope *scope = worker.newScope();
        QThread *startedOn = nullptr;
        QThread *afterSleepOn = nullptr;
        QThread *asideRanOn = nullptr;
        QThread *afterAsideOn = nullptr;
        auto handle = scope->asap([&]() -> QAyo::Task<int> {
            startedOn = QThread::currentThread();
            co_await QAyo::sleep(5ms);
            afterSleepOn = QThread::currentThread();
            asideRanOn = co_await QAyo::aside([] { return QThread::currentThread(); });
            afterAsideOn = QThread::currentThread();
            co_return 42;
        });
        QVERIFY(pollUntil([&] { return handle.isFinished(); }));
        QCOMPARE(handle.result(), 42);
        QCOMPARE(startedOn, worker.thread());
        QCOMPARE(afterSleepOn, worker.thread());
        QVERIFY(asideRanOn && asideRanOn != worker.thread()
                && asideRanOn != QThread::currentThread());
        QCOMPARE(afterAsideOn, worker.thread());
        QCOMPARE(worker.call([scope] { return scope->isActive(); }), false);
        worker.destroy(scope);
    }

    // --- scope members that belong on the scope's thread --------------------------------

    void scopeMembersFromAnotherThreadThrow_data()
    {
        QTest::addColumn<ScopeMisuse>("misuse");
        QTest::addColumn<QString>("call");
        QTest::newRow("setName") << ScopeMisuse([](QAyo::Scope &s) { s.setName(QStringLiteral("renamed")); })
                                 << QStringLiteral("setName");
        QTest::newRow("setMaxConcurrency") << ScopeMisuse([](QAyo::Scope &s) { s.setMaxConcurrency(2); })
                                           << QStringLiteral("setMaxConcurrency");
        QTest::newRow("setTimeout") << ScopeMisuse([](QAyo::Scope &s) { s.setTimeout(5s); })
                                    << QStringLiteral("setTimeout");
        QTest::newRow("setTimeoutThrows") << ScopeMisuse([](QAyo::Scope &s) { s.setTimeoutThrows(true); })
                                          << QStringLiteral("setTimeoutThrows");
        QTest::newRow("setSupervising") << ScopeMisuse([](QAyo::Scope &s) { s.setSupervising(true); })
                                        << QStringLiteral("setSupervising");
        QTest::newRow("join") << ScopeMisuse([](QAyo::Scope &s) { static_cast<void>(s.join()); })
                              << QStringLiteral("join");
        QTest::newRow("co_await scope") << ScopeMisuse([](QAyo::Scope &s) { static_cast<void>(s.operator co_await()); })
                                        << QStringLiteral("join");
        QTest::newRow("dumpTree") << ScopeMisuse([](QAyo::Scope &s) { s.dumpTree(); })
                                  << QStringLiteral("dumpTree");
        QTest::newRow("treeText") << ScopeMisuse([](QAyo::Scope &s) { static_cast<void>(QAyo::treeText(&s)); })
                                  << QStringLiteral("treeText");
    }

    void scopeMembersFromAnotherThreadThrow()
    {
        QFETCH(ScopeMisuse, misuse);
        QFETCH(QString, call);
        // A scope with a running task and a queued one: a setMaxConcurrency(2) that went through
        // started the queued task on the calling thread (and the join hung).
        QAyo::Scope scope({.maxConcurrency = 1, .name = QStringLiteral("home")});
        bool gateOpen = false;
        bool queuedRan = false;
        scope.asap(waitUntil(&gateOpen));
        scope.asap([&] { queuedRan = true; });
        QVERIFY(spinUntil([&] { return scope.runningCount() == 1; }));

        QString type; // written by the other thread; read after join() (happens-before)
        QString message;
        std::thread other([&] {
            try {
                misuse(scope);
                type = QStringLiteral("no exception");
            } catch (const QAyo::InvalidStateError &e) {
                type = QStringLiteral("InvalidStateError");
                message = e.message();
            } catch (...) {
                type = QStringLiteral("another exception");
            }
        });
        other.join();
        QCOMPARE(type, QStringLiteral("InvalidStateError"));
        QVERIFY2(message.contains(call + QLatin1Char(':')) && message.contains(QStringLiteral("home"))
                     && message.contains(QStringLiteral("thread")),
                 qPrintable(message));
        // Nothing changed.
        QCOMPARE(scope.name(), QStringLiteral("home"));
        QCOMPARE(scope.maxConcurrency(), 1);
        QCOMPARE(scope.timeout(), std::nullopt);
        QVERIFY(!scope.timeoutThrows());
        QVERIFY(!scope.isSupervising());
        QCOMPARE(scope.pendingCount(), 1);
        QVERIFY(!queuedRan);
        gateOpen = true;
        QAYO_TEST_JOIN(scope);
        QVERIFY(queuedRan);
    }

    void scopeMembersOnAWorkerScopeThrowFromTheMainThread()
    {
        // The same rule for a scope moved to a worker: the main thread may not set it up.
        Worker worker;
        QAyo::Scope *scope = worker.newScope();
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidStateError, scope->setMaxConcurrency(3));
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidStateError, static_cast<void>(scope->join()));
        QCOMPARE(worker.call([scope] { return scope->maxConcurrency(); }), 0);
        worker.call([scope] { scope->setMaxConcurrency(3); }); // on its own thread it works
        QCOMPARE(worker.call([scope] { return scope->maxConcurrency(); }), 3);
        worker.destroy(scope);
    }

    // --- handles awaited across threads --------------------------------------------------

    void workerTaskAwaitsAHandleOfTheMainThread()
    {
        Worker worker;
        QAyo::Scope *remote = worker.newScope();
        QAyo::Scope mainScope;
        std::atomic<bool> awaiting { false };
        auto mainHandle = mainScope.asap([&]() -> QAyo::Task<int> {
            co_await untilSet(&awaiting);
            co_await QAyo::sleep(20ms); // the worker's wait is registered by now
            co_return 42;
        });
        QThread *resumedOn = nullptr;
        auto workerHandle = remote->asap([&, mainHandle]() -> QAyo::Task<int> {
            awaiting = true;
            const int value = co_await mainHandle;
            resumedOn = QThread::currentThread();
            co_return value + 1;
        });
        QVERIFY(pollUntil([&] { return workerHandle.isFinished(); }));
        QCOMPARE(workerHandle.result(), 43);
        QCOMPARE(resumedOn, worker.thread());
        worker.destroy(remote);
    }

    void mainTaskAwaitsAHandleOfAWorkerThread_data()
    {
        QTest::addColumn<bool>("fails");
        QTest::newRow("value") << false;
        QTest::newRow("error") << true;
    }

    void mainTaskAwaitsAHandleOfAWorkerThread()
    {
        QFETCH(bool, fails);
        Worker worker;
        QAyo::Scope *remote = worker.newScope();
        std::atomic<bool> awaiting { false };
        // Spawned on the worker thread: the handle is created where its scope lives.
        auto remoteHandle = worker.call([&] {
            return remote->asap([&]() -> QAyo::Task<int> {
                co_await untilSet(&awaiting);
                co_await QAyo::sleep(20ms);
                if (fails)
                    throw std::runtime_error("failed on the worker");
                co_return 7;
            });
        });
        int value = 0;
        QString error;
        QThread *resumedOn = nullptr;
        auto body = [&]() -> QAyo::Task<> {
            awaiting = true;
            try {
                value = co_await remoteHandle;
            } catch (const std::runtime_error &e) {
                error = QString::fromUtf8(e.what());
            }
            resumedOn = QThread::currentThread();
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(resumedOn, QThread::currentThread());
        if (fails) {
            QCOMPARE(error, QStringLiteral("failed on the worker"));
            QVERIFY(remoteHandle.isFailed());
        } else {
            QCOMPARE(value, 7);
        }
        worker.call([remote] { static_cast<void>(remote->errors()); }); // observed
        worker.destroy(remote);
    }

    void moveOnlyResultAwaitedOnTwoThreadsGoesToOne()
    {
        // Two threads await one handle of a move-only result: one gets the value, the other
        // InvalidStateError (never a moved-from value, and no race on the value).
        Worker worker;
        QAyo::Scope *remote = worker.newScope();
        std::atomic<bool> release{false};
        auto handle = worker.call([&] {
            return remote->asap([&]() -> QAyo::Task<std::unique_ptr<int>> {
                co_await untilSet(&release);
                co_return std::make_unique<int>(7);
            });
        });
        std::atomic<int> values{0};
        std::atomic<int> errors{0};
        std::atomic<int> awaiting{0};
        auto await = [&]() -> QAyo::Task<> {
            try {
                ++awaiting;
                std::unique_ptr<int> value = co_await handle;
                if (value && *value == 7)
                    ++values;
            } catch (const QAyo::InvalidStateError &) {
                ++errors;
            }
        };
        std::atomic<bool> workerDone{false};
        worker.call([&] {
            remote->asap([&]() -> QAyo::Task<> {
                co_await await();
                workerDone = true;
            });
        });
        QAyo::Scope local;
        local.asap([&]() -> QAyo::Task<> { co_await await(); });
        QTRY_COMPARE_WITH_TIMEOUT(awaiting.load(), 2, 5000);
        release = true;
        QAYO_TEST_JOIN(local);
        QTRY_VERIFY_WITH_TIMEOUT(workerDone.load(), 5000);
        QCOMPARE(values.load(), 1);
        QCOMPARE(errors.load(), 1);
        worker.destroy(remote);
    }

    void mainTaskAwaitsAHandleItSpawnedIntoAWorkerScope()
    {
        // Spawned from the main thread into a scope on the worker, awaited on the main thread.
        Worker worker;
        QAyo::Scope *remote = worker.newScope();
        QThread *ranOn = nullptr;
        auto handle = remote->asap([&ranOn]() -> QAyo::Task<int> {
            ranOn = QThread::currentThread();
            co_await QAyo::sleep(20ms);
            co_return 7;
        });
        int value = 0;
        auto body = [&]() -> QAyo::Task<> { value = co_await handle; };
        QAYO_TEST_RUN(body());
        QCOMPARE(value, 7);
        QVERIFY(ranOn != nullptr);
        QVERIFY(ranOn != QThread::currentThread());
        worker.destroy(remote);
    }

    void cancelWhileAwaitingAHandleOfAnotherThread()
    {
        Worker worker;
        QAyo::Scope *remote = worker.newScope();
        std::atomic<bool> remoteStarted { false };
        auto remoteHandle = worker.call([&] {
            return remote->asap([&]() -> QAyo::Task<> {
                remoteStarted = true;
                co_await QAyo::sleep(1h);
            });
        });
        QAyo::Scope mainScope;
        bool cancelled = false;
        bool awaiting = false;
        auto waiter = mainScope.asap([&]() -> QAyo::Task<> {
            co_await untilSet(&remoteStarted);
            awaiting = true; // and suspended on the handle in the same step
            try {
                co_await remoteHandle;
            } catch (const QAyo::Cancelled &) {
                cancelled = true;
                throw;
            }
        });
        QVERIFY(spinUntil([&] { return awaiting; }, 10s));
        QElapsedTimer sinceCancel;
        sinceCancel.start();
        mainScope.cancel();
        QVERIFY(spinUntil([&] { return waiter.isFinished(); }, 5s));
        QVERIFY2(sinceCancel.elapsed() < 1000, qPrintable(QString::number(sinceCancel.elapsed())));
        QVERIFY(cancelled);
        QVERIFY(waiter.isCancelled());
        QVERIFY(!remoteHandle.isFinished()); // the remote task goes on: only the wait ended

        // The remote task ends now; its completion travels to this thread and finds nobody.
        remote->cancel();
        QVERIFY(pollUntil([&] { return remoteHandle.isFinished(); }));
        spinFor(20ms);
        worker.destroy(remote);
    }

    void awaiterDestroyedWhileAwaitingAHandleOfAnotherThread()
    {
        Worker worker;
        QAyo::Scope *remote = worker.newScope();
        std::atomic<bool> release { false };
        auto remoteHandle = worker.call([&] {
            return remote->asap([&]() -> QAyo::Task<int> {
                co_await untilSet(&release);
                co_return 1;
            });
        });
        int framesAlive = 0;
        auto mainScope = std::make_unique<QAyo::Scope>();
        bool resumed = false;
        mainScope->asap([&]() -> QAyo::Task<> {
            LiveCounter alive(&framesAlive);
            co_await remoteHandle;
            resumed = true;
        });
        QVERIFY(spinUntil([&] { return framesAlive == 1; })); // and suspended on the handle
        mainScope.reset(); // destroys the suspended frame and its awaiter
        QCOMPARE(framesAlive, 0);

        release = true; // the remote task completes; its completion must find nobody
        QVERIFY(pollUntil([&] { return remoteHandle.isFinished(); }));
        spinFor(20ms);
        QVERIFY(!resumed);
        QCOMPARE(remoteHandle.result(), 1);
        worker.destroy(remote);
    }

    void spawningIntoAScopeWhoseThreadHasEndedThrows()
    {
        // A scope left alive on a worker thread that has ended: work spawned into it from another
        // thread could never start. It is refused at the call instead of waiting forever.
        QThread worker;
        auto *left = new QAyo::Scope(QAyo::ScopeOptions { .name = QStringLiteral("left behind") });
        left->moveToThread(&worker);
        worker.start();
        worker.quit();
        QVERIFY(worker.wait(10000));
        int ran = 0;
        QString error;
        try {
            left->asap([&ran] { ++ran; });
        } catch (const QAyo::ScopeClosedError &e) {
            error = e.message();
        }
        QVERIFY2(error.contains(QLatin1String("left behind")) && error.contains(QLatin1String("has ended")),
                 qPrintable(error));
        QVERIFY_THROWS_EXCEPTION(QAyo::ScopeClosedError, left->after(1ms, [&ran] { ++ran; }));
        QCOMPARE(ran, 0);
        delete left; // an object of a finished thread: deleted here
    }

    void spawnsFromAnotherThreadRacingTheJoinEndRanOrCancelled()
    {
        // Another thread keeps spawning while this thread joins the scope: each spawn either
        // runs, or reaches the scope after its join ended and is cancelled, or is refused with
        // ScopeClosedError once the scope has finished (a check that reads the scope's state
        // from the spawning thread: ThreadSanitizer checks it). None is lost.
        QAyo::Scope scope;
        std::atomic<int> ran { 0 };
        std::atomic<bool> refused { false };
        std::atomic<bool> spawning { false };
        std::vector<QAyo::Handle<void>> handles;
        std::thread side([&] {
            QElapsedTimer elapsed;
            elapsed.start();
            while (elapsed.elapsed() < 10000) {
                try {
                    handles.push_back(scope.asap([&ran] { ++ran; }));
                } catch (const QAyo::ScopeClosedError &) {
                    refused = true;
                    return;
                }
                spawning = true;
                QThread::usleep(50); // a steady stream, with gaps in which the join can end
            }
        });
        auto body = [&]() -> QAyo::Task<> {
            while (!spawning.load())
                co_await QAyo::checkpoint();
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        side.join();
        QVERIFY(refused.load());
        QVERIFY(spinUntil([&] {
            return std::all_of(handles.begin(), handles.end(), [](const auto &h) { return h.isFinished(); });
        }));
        int cancelled = 0;
        for (const auto &handle : handles)
            cancelled += handle.isCancelled() ? 1 : 0;
        QCOMPARE(ran.load() + cancelled, int(handles.size()));
    }

    void errorMessagesMadeOnOtherThreadsReadTheScopeNameSafely()
    {
        // The scope's thread keeps renaming the scope while another thread's wrong-thread calls
        // build their errors, which name it. ThreadSanitizer checks that the two never race.
        QAyo::Scope scope;
        scope.setName(QStringLiteral("renamed first"));
        std::atomic<bool> stop { false };
        std::atomic<int> refused { 0 };
        std::atomic<bool> named { true };
        std::thread side([&] {
            while (!stop.load()) {
                try {
                    scope.setMaxConcurrency(2);
                } catch (const QAyo::InvalidStateError &e) {
                    ++refused;
                    if (!e.message().contains(QLatin1String("renamed ")))
                        named = false;
                }
            }
        });
        QElapsedTimer elapsed;
        elapsed.start();
        for (int i = 0; refused.load() < 500 && elapsed.elapsed() < 10000; ++i)
            scope.setName(QStringLiteral("renamed %1").arg(i));
        stop = true;
        side.join();
        QVERIFY2(refused.load() >= 500, qPrintable(QString::number(refused.load())));
        QVERIFY(named.load());
        QCOMPARE(scope.maxConcurrency(), 0);
    }

    void completionForAnAwaiterWhoseThreadHasEndedIsDropped_data()
    {
        QTest::addColumn<bool>("postedBeforeTheEnd");
        QTest::newRow("completion after the thread ended") << false;
        QTest::newRow("completion posted while the thread is busy, then it ends") << true;
    }

    void completionForAnAwaiterWhoseThreadHasEndedIsDropped()
    {
        // A task on a plain thread awaits a handle of this thread, and that thread ends with the
        // task still waiting (its scope left alive): the thread's QAyo context, and with it the
        // port the completion would be posted to, are gone. The completion is dropped, and said
        // - also when it was posted to the port before the thread ended, never delivered.
        QFETCH(bool, postedBeforeTheEnd);
        MessageCapture capture;
        QAyo::Scope mainScope;
        bool go = false;
        auto mainHandle = mainScope.asap(waitUntil(&go));
        mainHandle.setName(QStringLiteral("awaited"));
        std::unique_ptr<QAyo::Scope> left;
        std::atomic<bool> awaiting { false };
        std::atomic<bool> busy { false };
        Gate gate;
        bool resumed = false;
        std::thread side([&] {
            QEventLoop loop; // gives the thread an event dispatcher: its tasks run from it
            left = std::make_unique<QAyo::Scope>();
            left->asap([&]() -> QAyo::Task<> {
                awaiting = true; // and suspended on the handle in the same step
                co_await mainHandle;
                resumed = true;
            });
            static_cast<void>(QTest::qWaitFor([&] { return awaiting.load(); }, 10000)); // checked below
            if (postedBeforeTheEnd) {
                busy = true; // no event is delivered here from now on
                gate.waitOpen();
            }
        });
        if (postedBeforeTheEnd) {
            QVERIFY(pollUntil([&] { return busy.load(); }));
            QCoreApplication::sendPostedEvents(); // the wait registers with the main task
            go = true; // the main task ends: its completion is posted to the busy thread
            QVERIFY(spinUntil([&] { return mainHandle.isFinished(); }));
            gate.open();
        }
        side.join(); // the thread and its QAyo context are gone
        QVERIFY(awaiting.load());
        if (!postedBeforeTheEnd) {
            spinFor(20ms); // the wait registers with the main task (or finds it ended: the same)
            go = true;     // the main task ends: its completion finds the awaiter's thread gone
            QVERIFY(spinUntil([&] { return mainHandle.isFinished(); }));
            spinFor(20ms);
        }
        QVERIFY(!resumed);
        const QString said = capture.messages("qayo.scope").join(u'\n');
        QVERIFY2(said.contains(QLatin1String("task awaited ended")) && said.contains(QLatin1String("its thread has ended")),
                 qPrintable(said));
        left.reset(); // the scope of an ended thread: destroys the suspended frame
    }

    void remoteScopeDestroyedBeforeTheWaitArrives()
    {
        Worker worker;
        QAyo::Scope *remote = worker.newScope();
        auto remoteHandle = worker.call([&] { return remote->asap(valueAfter(1h, 1)); });

        // Keep the worker busy, so the wait registered below stays queued behind this call,
        // which then destroys the scope before the wait can be delivered.
        std::atomic<bool> workerBlocked { false };
        std::atomic<bool> unblock { false };
        worker.post([&] {
            workerBlocked = true;
            waitForFlag(unblock);
            delete remote;
        });
        QVERIFY(pollUntil([&] { return workerBlocked.load(); }));

        QAyo::Scope mainScope;
        bool awaiting = false;
        QString outcome;
        QThread *resumedOn = nullptr;
        auto waiter = mainScope.asap([&]() -> QAyo::Task<> {
            awaiting = true;
            try {
                co_await remoteHandle;
                outcome = QStringLiteral("value");
            } catch (const QAyo::TaskCancelledError &) {
                outcome = QStringLiteral("TaskCancelledError");
            }
            resumedOn = QThread::currentThread();
        });
        QVERIFY(spinUntil([&] { return awaiting; }));
        unblock = true;
        QVERIFY(spinUntil([&] { return waiter.isFinished(); }, 10s));
        QCOMPARE(outcome, QStringLiteral("TaskCancelledError"));
        QCOMPARE(resumedOn, QThread::currentThread());
        QVERIFY(remoteHandle.isCancelled());
    }

    void asideOnAWorkerScopeDeliversOnTheWorker()
    {
        Worker worker;
        QAyo::Scope *scope = worker.newScope();
        QThread *deliveredOn = nullptr;
        auto handle = worker.call([&] {
            return scope->asap([&]() -> QAyo::Task<QThread *> {
                QThread *ranOn = co_await scope->aside([] { return QThread::currentThread(); });
                deliveredOn = QThread::currentThread();
                co_return ranOn;
            });
        });
        // And this (main) thread awaits the worker's handle meanwhile.
        QThread *ranOn = nullptr;
        auto body = [&]() -> QAyo::Task<> { ranOn = co_await handle; };
        QAYO_TEST_RUN(body());
        QCOMPARE(deliveredOn, worker.thread());
        QVERIFY(ranOn && ranOn != worker.thread() && ranOn != QThread::currentThread());
        worker.destroy(scope);
    }

    // --- mail delivered in one batch: user code run by one letter meets the next -------------

    void deletingAScopeFromASlotOfASiblingsCrossThreadSpawn_data()
    {
        QTest::addColumn<int>("signal");
        QTest::newRow("started") << 0;
        QTest::newRow("taskStarted") << 1;
        QTest::newRow("pendingChanged") << 2;
    }

    void deletingAScopeFromASlotOfASiblingsCrossThreadSpawn()
    {
        // Another thread spawns into scopes A and B of this thread while it is busy: both spawns
        // arrive in one delivery. A slot of A's deletes B before B's spawn is handed over: B's
        // task must end as cancelled, nothing may read the deleted scope.
        QFETCH(int, signal);
        auto *a = new QAyo::Scope(QAyo::ScopeOptions { .name = QStringLiteral("A") });
        auto *b = new QAyo::Scope(QAyo::ScopeOptions { .name = QStringLiteral("B") });
        QPointer<QAyo::Scope> bAlive(b);
        const auto deleteB = [&] { delete bAlive.data(); };
        if (signal == 0)
            connect(a, &QAyo::Scope::started, a, deleteB);
        else if (signal == 1)
            connect(a, &QAyo::Scope::taskStarted, a, deleteB);
        else
            connect(a, &QAyo::Scope::pendingChanged, a, deleteB);
        std::atomic<int> ranA { 0 };
        std::atomic<int> ranB { 0 };
        QAyo::Handle<void> handleA;
        QAyo::Handle<void> handleB;
        std::thread other([&] {
            handleA = a->asap([&ranA] { ++ranA; });
            handleB = b->asap([&ranB] { ++ranB; });
        });
        other.join(); // this thread delivered nothing meanwhile: both letters wait together
        QVERIFY(spinUntil([&] { return handleA.isFinished() && handleB.isFinished(); }, 10s));
        QVERIFY(!bAlive);
        QCOMPARE(ranA.load(), 1);
        QCOMPARE(ranB.load(), 0);
        QVERIFY(handleB.isCancelled());
        delete a;
    }

    void deletingAScopeFromAnAsideCompletionSlot()
    {
        // An aside job of A's comes home in the same delivery as a spawn into B from another
        // thread; A's taskFinished slot deletes B.
        QThreadPool pool;
        auto *a = new QAyo::Scope(QAyo::ScopeOptions { .name = QStringLiteral("A") });
        auto *b = new QAyo::Scope(QAyo::ScopeOptions { .name = QStringLiteral("B") });
        QPointer<QAyo::Scope> bAlive(b);
        connect(a, &QAyo::Scope::taskFinished, a, [&] { delete bAlive.data(); });
        std::atomic<int> ranB { 0 };
        QAyo::Handle<void> handleB;
        auto handleA = a->asideIn(&pool, [] {});
        std::thread other([&] {
            pool.waitForDone(10000); // A's outcome is in the mail now, ahead of B's spawn
            handleB = b->asap([&ranB] { ++ranB; });
        });
        other.join();
        QVERIFY(spinUntil([&] { return handleA.isFinished() && handleB.isFinished(); }, 10s));
        QVERIFY(!bAlive);
        // B's task ran before the slot deleted B, or was cancelled with it: never half of each.
        QCOMPARE(handleB.isCancelled(), ranB.load() == 0);
        delete a;
    }

    void aNestedEventLoopInASlotStillGetsTheRestOfTheDelivery()
    {
        // A slot that A's spawn runs opens a nested event loop (a modal dialog would): the spawn
        // into B, which arrived in the same delivery, still runs while that loop spins.
        QAyo::Scope a(QAyo::ScopeOptions { .name = QStringLiteral("A") });
        QAyo::Scope b(QAyo::ScopeOptions { .name = QStringLiteral("B") });
        std::atomic<int> ranB { 0 };
        bool ranInsideTheNestedLoop = false;
        connect(&a, &QAyo::Scope::started, &a, [&] {
            QEventLoop loop;
            QTimer giveUp;
            giveUp.setSingleShot(true);
            connect(&giveUp, &QTimer::timeout, &loop, &QEventLoop::quit);
            connect(&b, &QAyo::Scope::taskFinished, &loop, &QEventLoop::quit);
            giveUp.start(10s);
            loop.exec();
            ranInsideTheNestedLoop = ranB.load() == 1;
        });
        QAyo::Handle<void> handleA;
        QAyo::Handle<void> handleB;
        std::thread other([&] {
            handleA = a.asap([] {});
            handleB = b.asap([&ranB] { ++ranB; });
        });
        other.join();
        QVERIFY(spinUntil([&] { return handleA.isFinished() && handleB.isFinished(); }, 20s));
        QVERIFY(ranInsideTheNestedLoop);
    }
};

QTEST_GUILESS_MAIN(ThreadsTest)
#include "tst_threads.moc"
