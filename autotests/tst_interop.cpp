// SPDX-License-Identifier: MIT
// Interop with QCoro and Qt: QAyo::Task <-> QCoro::Task both ways, eager QCoro tasks adopted by a
// scope, callables returning QCoro tasks or QFutures, qCoro(signal), QFuture.
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QCoreApplication>
#include <QFuture>
#include <QSemaphore>
#include <QTest>
#include <QThread>
#include <QTimer>
#include <QtConcurrent/QtConcurrentRun>

#include <qcoro/qcorofuture.h>
#include <qcoro/qcorosignal.h>
#include <qcoro/qcorotimer.h>

#include <atomic>
#include <stdexcept>

using namespace std::chrono_literals;
using namespace TestHelpers;

namespace {

QAyo::Task<int> qayoValueAfter(std::chrono::milliseconds delay, int value)
{
    co_await QAyo::sleep(delay);
    co_return value;
}

QAyo::Task<int> qayoFailing()
{
    co_await QAyo::sleep(1ms);
    throw std::runtime_error("qayo failed");
}

QCoro::Task<int> qcoroValueAfter(std::chrono::milliseconds delay, int value)
{
    QTimer timer;
    timer.setSingleShot(true);
    timer.start(delay);
    co_await timer;
    co_return value;
}

QCoro::Task<int> qcoroFailing()
{
    QTimer timer;
    timer.setSingleShot(true);
    timer.start(1ms);
    co_await timer;
    throw std::runtime_error("qcoro failed");
}

} // namespace

//! Emits a value on request, for qCoro(obj, &Class::signal).
class Emitter : public QObject
{
    Q_OBJECT
Q_SIGNALS:
    void valueReady(int value);
    void pairReady(int a, const QString &b);
};

class InteropTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    void qayoTaskAwaitedFromQCoroTask()
    {
        int value = 0;
        QString error;
        bool done = false;
        auto driver = [&]() -> QCoro::Task<> {
            value = co_await qayoValueAfter(2ms, 7);
            try {
                co_await qayoFailing();
            } catch (const std::runtime_error &e) {
                error = QString::fromUtf8(e.what());
            }
            done = true;
        };
        QCoro::Task<> running = driver();
        QVERIFY(spinUntil([&] { return done; }));
        QCOMPARE(value, 7);
        QCOMPARE(error, QStringLiteral("qayo failed"));
    }

    void blockScopeInsideQAyoTaskAwaitedFromQCoroTask()
    {
        QAyo::ScopeOutcome outcome;
        bool done = false;
        auto inner = [&]() -> QAyo::Task<> {
            outcome = co_await QAyo::scope([](QAyo::Scope &s) {
                s << qayoValueAfter(2ms, 1) << qayoValueAfter(1ms, 2);
            });
        };
        auto driver = [&]() -> QCoro::Task<> {
            co_await inner();
            done = true;
        };
        QCoro::Task<> running = driver();
        QVERIFY(spinUntil([&] { return done; }));
        QCOMPARE(outcome.results, (QVariantList{1, 2}));
    }

    void qcoroTaskAwaitedFromQAyoTask()
    {
        QString error;
        auto body = [&]() -> QAyo::Task<int> {
            const int value = co_await qcoroValueAfter(2ms, 20);
            try {
                co_await qcoroFailing();
            } catch (const std::runtime_error &e) {
                error = QString::fromUtf8(e.what());
            }
            co_return value + 1;
        };
        int result = 0;
        QAYO_TEST_RUN_INTO(result, body());
        QCOMPARE(result, 21);
        QCOMPARE(error, QStringLiteral("qcoro failed"));
    }

    void handleAndJoinAwaitedFromQCoroTask()
    {
        QAyo::Scope scope;
        auto h = scope.asap(qayoValueAfter(2ms, 5));
        int value = 0;
        bool joined = false;
        auto driver = [&]() -> QCoro::Task<> {
            value = co_await h;
            co_await scope;
            joined = true;
        };
        QCoro::Task<> running = driver();
        QVERIFY(spinUntil([&] { return joined; }));
        QCOMPARE(value, 5);
        QVERIFY(scope.isFinished());
    }

    void callableReturningQCoroTaskIsSpawnedLazily()
    {
        QAyo::Scope scope({.maxConcurrency = 1});
        int created = 0;
        int running = 0;
        int maxRunning = 0;
        auto work = [&](int i) -> QCoro::Task<int> {
            maxRunning = std::max(maxRunning, ++running);
            co_await qcoroValueAfter(2ms, 0);
            --running;
            co_return i * 2;
        };
        auto make = [&](int i) {
            ++created; // the QCoro::Task (eager) starts right here
            return work(i);
        };
        QList<QAyo::Handle<int>> handles;
        for (int i = 0; i < 4; ++i)
            handles << scope.asap(make, i);
        QCOMPARE(created, 0);
        QAYO_TEST_JOIN(scope);
        QCOMPARE(created, 4);
        QCOMPARE(maxRunning, 1); // counted against maxConcurrency like any task
        for (int i = 0; i < 4; ++i)
            QCOMPARE(handles.at(i).result(), i * 2);
    }

    void qCoroSignalAwaitedInsideQAyoTask()
    {
        Emitter emitter;
        QTimer::singleShot(5ms, &emitter, [&emitter] {
            Q_EMIT emitter.valueReady(42);
        });
        auto body = [&]() -> QAyo::Task<int> {
            const int value = co_await qCoro(&emitter, &Emitter::valueReady);
            co_return value;
        };
        int result = 0;
        QAYO_TEST_RUN_INTO(result, body());
        QCOMPARE(result, 42);

        QTimer::singleShot(5ms, &emitter, [&emitter] { Q_EMIT emitter.pairReady(2, QStringLiteral("two")); });
        auto pair = [&]() -> QAyo::Task<QString> {
            const auto [a, b] = co_await qCoro(&emitter, &Emitter::pairReady);
            co_return QString::number(a) + b;
        };
        QString text;
        QAYO_TEST_RUN_INTO(text, pair());
        QCOMPARE(text, QStringLiteral("2two"));
    }

    void qFutureAwaitedInsideQAyoTask()
    {
        auto body = []() -> QAyo::Task<int> {
            QFuture<int> future = QtConcurrent::run([] { return 6 * 7; });
            const int value = co_await future;
            co_return value;
        };
        int result = 0;
        QAYO_TEST_RUN_INTO(result, body());
        QCOMPARE(result, 42);
    }

    void callableReturningQFutureIsSpawned()
    {
        QAyo::Scope scope;
        auto h = scope.asap([] { return QtConcurrent::run([] { return QStringLiteral("pooled"); }); });
        static_assert(std::is_same_v<decltype(h), QAyo::Handle<QString>>);
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        QCOMPARE(h.result(), QStringLiteral("pooled"));
    }

    void cancelWhileAwaitingQFutureIsDeliveredWhenItCompletes()
    {
        QAyo::Scope scope;
        QSemaphore started;
        QSemaphore release;
        std::atomic<bool> workerFinished = false;
        bool finishedBeforeCancelled = false;
        bool cancelled = false;
        bool passedAwait = false;
        auto h = scope.asap([&]() -> QAyo::Task<> {
            QFuture<void> future = QtConcurrent::run([&] {
                started.release();
                // Wake the main thread's loop: a semaphore alone posts no event.
                QMetaObject::invokeMethod(QCoreApplication::instance(), [] {}, Qt::QueuedConnection);
                release.acquire(); // the test decides when the worker ends
                workerFinished = true;
            });
            try {
                co_await future;
                passedAwait = true;
            } catch (const QAyo::Cancelled &) {
                finishedBeforeCancelled = workerFinished;
                cancelled = true;
                throw;
            }
        });
        // The worker runs only once the task's step (up to the co_await) has returned.
        QVERIFY(spinUntil([&] { return started.tryAcquire(); }));
        scope.cancel();
        spinFor(20ms);
        QVERIFY(!h.isFinished()); // a foreign wait: no early wake-up
        release.release();
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        QVERIFY(cancelled);
        QVERIFY(finishedBeforeCancelled);
        QVERIFY(!passedAwait);
        QVERIFY(h.isCancelled());
    }

    // Eager QCoro::Task adopted by a scope (Scope::asap(QCoro::Task&&)). Kept last: a crash here
    // ends the process. (With GCC 12 they crashed in detail::awaitRunning: the temporary
    // Uninterruptible<QCoro::Task> in its co_await was destroyed twice.)
    void runningQCoroTaskSpawnedIntoScopeIsWaitedFor()
    {
        QAyo::Scope scope;
        bool qcoroDone = false;
        auto work = [&qcoroDone]() -> QCoro::Task<int> {
            co_await qcoroValueAfter(20ms, 0);
            qcoroDone = true;
            co_return 9;
        };
        auto h = scope.asap(work()); // running already: the scope adopts it
        static_assert(std::is_same_v<decltype(h), QAyo::Handle<int>>);
        bool doneAtJoin = false;
        auto body = [&]() -> QAyo::Task<> {
            co_await scope;
            doneAtJoin = qcoroDone;
        };
        QAYO_TEST_RUN(body());
        QVERIFY(doneAtJoin);
        QCOMPARE(h.result(), 9);
        QCOMPARE(scope.results(), QVariantList{9});
    }

    void runningQCoroTaskIsWaitedForEvenWhenCancelled()
    {
        QAyo::Scope scope;
        bool qcoroDone = false;
        auto work = [&qcoroDone]() -> QCoro::Task<int> {
            co_await qcoroValueAfter(30ms, 0);
            qcoroDone = true;
            co_return 1;
        };
        auto h = scope.asap(work());
        scope.cancel(); // cannot interrupt it: the scope still waits for it to end
        bool doneAtJoin = false;
        auto body = [&]() -> QAyo::Task<> {
            co_await scope;
            doneAtJoin = qcoroDone;
        };
        QAYO_TEST_RUN(body());
        QVERIFY(doneAtJoin);
        QVERIFY(h.isFinished());
    }

    void runningQCoroTaskFailureIsAScopeError()
    {
        QAyo::Scope scope;
        scope.asap(qcoroFailing());
        QCOMPARE(joinError<std::runtime_error>(scope), QStringLiteral("qcoro failed"));
    }
};

QTEST_GUILESS_MAIN(InteropTest)
#include "tst_interop.moc"
