// SPDX-License-Identifier: MIT
// Limiters, the start handshake and gather: a limiter shared by scopes, per-spawn and aside
// limiters, FIFO grants when the capacity changes, cancelled waiters, scope.start() with its
// error rules, gather's order and its first error, and the bad input of each.
#include "helpers.h"

#include <QAyo/Gather>
#include <QAyo/Limiter>
#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QSignalSpy>
#include <QTest>
#include <QThread>
#include <QThreadPool>

#include <algorithm>
#include <atomic>
#include <optional>
#include <random>
#include <thread>
#include <stdexcept>
#include <tuple>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
using namespace TestHelpers;

namespace {

using Concurrency = PeakCounter;

QAyo::Task<> busy(Concurrency *concurrency, std::chrono::milliseconds duration)
{
    concurrency->enter();
    co_await QAyo::sleep(duration);
    concurrency->leave();
}

QAyo::Task<int> valueAfter(std::chrono::milliseconds delay, int value, Concurrency *concurrency = nullptr)
{
    if (concurrency)
        concurrency->enter();
    co_await QAyo::sleep(delay);
    if (concurrency)
        concurrency->leave();
    co_return value;
}

//! Takes a slot, appends \a id to \a order once it has it, then holds it until \a release.
QAyo::Task<> takeInTurn(QAyo::Limiter *limiter, int id, QList<int> *order, const bool *release)
{
    QAyo::LimiterToken token = co_await limiter->acquire();
    order->append(id);
    co_await waitUntil(release);
}

QAyo::Task<> serveNumber(QAyo::Started<int> started, bool *stillRunning)
{
    co_await QAyo::sleep(5ms);
    started.started(42);
    *stillRunning = true;
    co_await QAyo::sleep(1h); // serves until cancelled
}

//! co_await scope->start(f); *caught gets the message of a TaskCancelledError, or "StartError: "
//! and the message of a StartError.
template<typename F>
QAyo::Task<> startCatching(QAyo::Scope *scope, F f, QString *caught)
{
    try {
        co_await scope->start(std::move(f));
    } catch (const QAyo::TaskCancelledError &e) {
        *caught = e.message();
    } catch (const QAyo::StartError &e) {
        *caught = QStringLiteral("StartError: ") + e.message();
    }
}

//! The ids below \a count not divisible by 4, shuffled (fixed seed): the waiters a test withdraws
//! from the middle of a queue as well as from its ends.
std::vector<int> shuffledThreeQuarters(int count)
{
    std::vector<int> ids;
    for (int i = 0; i < count; ++i) {
        if (i % 4 != 0)
            ids.push_back(i);
    }
    std::mt19937 shuffle(20261125);
    std::shuffle(ids.begin(), ids.end(), shuffle);
    return ids;
}

//! Lives on a worker thread: keeps it busy (no event delivered there) until \a gate opens. Called
//! by name (queued), the atomic is the hand-over (see tst_aside's OrphaningWorker).
class BusyWorker : public QObject
{
    Q_OBJECT
public:
    explicit BusyWorker(Gate *gate) : m_gate(gate) {}
    std::atomic<bool> busy{false};

public Q_SLOTS:
    void stayBusy()
    {
        busy = true;
        m_gate->waitOpen();
    }

private:
    Gate *m_gate;
};

} // namespace

class LimitsTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    // --- the limiter on its own ------------------------------------------------------------

    void capacityMustBePositive_data()
    {
        QTest::addColumn<int>("capacity");
        QTest::newRow("zero") << 0;
        QTest::newRow("negative") << -3;
    }
    void capacityMustBePositive()
    {
        QFETCH(int, capacity);
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, QAyo::Limiter{capacity});
        QAyo::Limiter limiter(2);
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, limiter.setCapacity(capacity));
        QCOMPARE(limiter.capacity(), 2);
        try {
            QAyo::Limiter bad(capacity);
        } catch (const QAyo::InvalidArgument &e) {
            QVERIFY2(e.message().contains(QString::number(capacity)), qPrintable(e.message()));
        }
    }

    void tryAcquireTakesFreeSlotsOnly()
    {
        QAyo::Limiter limiter(2);
        QAyo::LimiterToken a = limiter.tryAcquire();
        QAyo::LimiterToken b = limiter.tryAcquire();
        QAyo::LimiterToken c = limiter.tryAcquire();
        QVERIFY(a.isHeld());
        QVERIFY(b.isHeld());
        QVERIFY(!c.isHeld());
        QCOMPARE(limiter.borrowed(), 2);
        QCOMPARE(limiter.available(), 0);
        a.release();
        a.release(); // harmless
        QCOMPARE(limiter.borrowed(), 1);
        QAyo::LimiterToken moved = std::move(b);
        QVERIFY(!b.isHeld());
        QVERIFY(moved.isHeld());
        QCOMPARE(limiter.borrowed(), 1);
        moved = QAyo::LimiterToken();
        QCOMPARE(limiter.borrowed(), 0);
        QCOMPARE(limiter.available(), 2);
    }

    void notifySignalsFollowTheCounts()
    {
        QAyo::Limiter limiter(1);
        QSignalSpy borrowed(&limiter, &QAyo::Limiter::borrowedChanged);
        QSignalSpy available(&limiter, &QAyo::Limiter::availableChanged);
        QSignalSpy capacity(&limiter, &QAyo::Limiter::capacityChanged);
        QAyo::LimiterToken token = limiter.tryAcquire();
        QVERIFY(borrowed.wait(2000));
        QCOMPARE(available.count(), 1);
        limiter.setCapacity(4);
        QVERIFY(capacity.wait(2000));
        QCOMPARE(limiter.available(), 3);
        QCOMPARE(limiter.property("available").toInt(), 3);
        QCOMPARE(limiter.property("waiting").toInt(), 0);
    }

    // --- a limiter destroyed while it is in use (docs/limits.md "Lifetime") -----------------

    void waitersFailWhenTheLimiterIsDestroyed()
    {
        auto limiter = std::make_unique<QAyo::Limiter>(1);
        limiter->setObjectName(QStringLiteral("downloads"));
        QAyo::LimiterToken held = limiter->tryAcquire();
        QString error;
        bool granted = false;
        QAyo::Scope scope;
        scope.asap([&, l = limiter.get()]() -> QAyo::Task<> {
            try {
                QAyo::LimiterToken token = co_await l->acquire();
                granted = true;
            } catch (const QAyo::InvalidStateError &e) {
                error = e.message();
            }
        });
        QTRY_COMPARE(limiter->waitingCount(), 1);
        limiter.reset();
        QTRY_VERIFY(!scope.isActive());
        QVERIFY(!granted);
        QVERIFY2(error.contains(QStringLiteral("'downloads'")) && error.contains(QStringLiteral("destroyed")),
                 qPrintable(error));
        held.release(); // after the limiter: nothing to hand on, nothing touched
        QVERIFY(!held.isHeld());
    }

    void acquireAwaitedAfterTheLimiterIsDestroyedFails()
    {
        auto limiter = std::make_unique<QAyo::Limiter>(1);
        std::optional<QAyo::detail::AcquireAwaiter> pending(limiter->acquire());
        limiter.reset();
        auto body = [&]() -> QAyo::Task<QString> {
            try {
                co_await std::move(*pending);
            } catch (const QAyo::InvalidStateError &e) {
                co_return e.message();
            }
            co_return QStringLiteral("(granted)");
        };
        QString error;
        QAYO_TEST_RUN_INTO(error, body());
        QVERIFY2(error.contains(QStringLiteral("(unnamed)")) && error.contains(QStringLiteral("destroyed")),
                 qPrintable(error));
    }

    void tokensReleasedAfterTheLimiterIsDestroyedAreHarmless()
    {
        auto limiter = std::make_unique<QAyo::Limiter>(2);
        QAyo::LimiterToken a = limiter->tryAcquire();
        QAyo::LimiterToken b = limiter->tryAcquire();
        QVERIFY(a.isHeld() && b.isHeld());
        limiter.reset();
        a.release();
        QAyo::LimiterToken moved = std::move(b);
        moved = QAyo::LimiterToken();
        QVERIFY(!a.isHeld() && !b.isHeld() && !moved.isHeld());
        spinFor(10ms); // no notification is posted to the dead object
    }

    void spawnsWaitingForADestroyedLimiterFail()
    {
        auto limiter = std::make_unique<QAyo::Limiter>(1);
        limiter->setObjectName(QStringLiteral("downloads"));
        QAyo::LimiterToken held = limiter->tryAcquire();
        int calls = 0;
        QAyo::Scope scope({.supervise = true, .name = QStringLiteral("fetchers")}); // both failures seen
        scope.asap(limiter.get(), [&] { ++calls; });
        scope.aside(limiter.get(), [&] { ++calls; });
        QTRY_COMPARE(limiter->waitingCount(), 2);
        limiter.reset();
        QAYO_TEST_JOIN(scope);
        QCOMPARE(calls, 0);
        const QStringList errors = scope.errorMessages();
        QCOMPARE(errors.size(), 2);
        for (const QString &error : errors) {
            QVERIFY2(error.contains(QStringLiteral("'downloads'")) && error.contains(QStringLiteral("destroyed"))
                         && error.contains(QStringLiteral("fetchers")),
                     qPrintable(error));
        }
        held.release();
    }

    void scopeWhoseLimiterIsDestroyedRefusesNewTasks()
    {
        auto limiter = std::make_unique<QAyo::Limiter>(1);
        limiter->setObjectName(QStringLiteral("downloads"));
        QAyo::Scope scope({.name = QStringLiteral("fetchers"), .limiter = limiter.get()});
        QCOMPARE(scope.limiter(), limiter.get());
        limiter.reset();
        QCOMPARE(scope.limiter(), nullptr);
        QString error;
        try {
            scope.asap([] {});
        } catch (const QAyo::InvalidStateError &e) {
            error = e.message();
        }
        QVERIFY2(error.contains(QStringLiteral("'downloads'")) && error.contains(QStringLiteral("fetchers")),
                 qPrintable(error));
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidStateError, scope.asap(valueAfter(1ms, 1)));
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidStateError, scope.after(1ms, [] {}));
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidStateError, static_cast<void>(scope.start([](QAyo::Started<>) {})));
        QVERIFY(!scope.isActive());
        // Work that does not draw from the scope's limiter is still welcome.
        QAyo::Limiter other(1);
        scope.asap(&other, [] {});
        scope.aside([] {});
        QAYO_TEST_JOIN(scope);
    }

    void scopeTasksWaitingForADestroyedLimiterFail()
    {
        auto limiter = std::make_unique<QAyo::Limiter>(1);
        limiter->setObjectName(QStringLiteral("downloads"));
        QAyo::LimiterToken held = limiter->tryAcquire();
        int calls = 0;
        QAyo::Scope scope({.name = QStringLiteral("fetchers"), .limiter = limiter.get()});
        scope.asap([&] { ++calls; });
        QTRY_COMPARE(limiter->waitingCount(), 1);
        limiter.reset();
        const QString error = joinError<QAyo::InvalidStateError>(scope);
        QVERIFY2(error.contains(QStringLiteral("'downloads'")), qPrintable(error));
        QCOMPARE(calls, 0);
    }

    // --- limiters and scopes ---------------------------------------------------------------

    void sharedLimiterBoundsTwoScopes()
    {
        QAyo::Limiter limiter(3);
        Concurrency concurrency;
        int peakBorrowed = 0;
        QObject::connect(&limiter, &QAyo::Limiter::borrowedChanged, &limiter,
                         [&] { peakBorrowed = std::max(peakBorrowed, limiter.borrowed()); });
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope first({.name = QStringLiteral("first"), .limiter = &limiter});
            QAyo::Scope second({.name = QStringLiteral("second"), .limiter = &limiter});
            for (int i = 0; i < 6; ++i) {
                first << busy(&concurrency, 10ms);
                second << busy(&concurrency, 10ms);
            }
            co_await first;
            co_await second;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(concurrency.peak.load(), 3);
        QCOMPARE(limiter.borrowed(), 0);
        QCOMPARE(limiter.waitingCount(), 0);
        QTRY_VERIFY(peakBorrowed >= 1 && peakBorrowed <= 3);
    }

    void perSpawnLimiterCallsTheCallableOnlyWithASlot()
    {
        QAyo::Limiter limiter(1);
        int calls = 0;
        bool release = false;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            QAyo::LimiterToken held = co_await limiter.acquire();
            scope.asap(&limiter, [&]() -> QAyo::Task<> {
                ++calls;
                co_await waitUntil(&release);
            });
            co_await QAyo::sleep(20ms);
            const int callsWhileHeld = calls;
            const int waiting = limiter.waitingCount();
            held.release();
            co_await QAyo::sleep(20ms);
            const int callsAfter = calls;
            release = true;
            co_await scope;
            if (callsWhileHeld != 0 || waiting != 1 || callsAfter != 1)
                throw std::runtime_error(QStringLiteral("calls %1/%2, waiting %3")
                                             .arg(callsWhileHeld).arg(callsAfter).arg(waiting).toStdString());
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(limiter.borrowed(), 0);
    }

    void perSpawnLimiterComesAfterMaxConcurrency()
    {
        // maxConcurrency 1 lets one through at a time; the limiter (capacity 2) is never full.
        QAyo::Limiter limiter(2);
        Concurrency concurrency;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope({.maxConcurrency = 1});
            for (int i = 0; i < 4; ++i)
                scope.asap(&limiter, busy(&concurrency, 5ms));
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(concurrency.peak.load(), 1);
        QCOMPARE(limiter.borrowed(), 0);
    }

    void nestedScopeCreatedWithTheParentsLimiterSharesIt()
    {
        QAyo::Limiter limiter(2);
        Concurrency inner;
        int borrowedInside = 0;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope outer({.limiter = &limiter});
            outer.asap([&]() -> QAyo::Task<> {
                // This task holds one slot; the nested scope gets the one left.
                co_await QAyo::scope({.limiter = outer.limiter()}, [&](QAyo::Scope &nested) {
                    for (int i = 0; i < 3; ++i)
                        nested << busy(&inner, 5ms);
                });
                borrowedInside = limiter.borrowed();
            });
            co_await outer;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(inner.peak.load(), 1);
        QCOMPARE(borrowedInside, 1);
        QCOMPARE(limiter.borrowed(), 0);
    }

    void capacityRaisedReleasesWaitersInFifoOrder()
    {
        QAyo::Limiter limiter(1);
        QList<int> order;
        bool release = false;
        QList<int> afterRaise;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            QAyo::LimiterToken held = limiter.tryAcquire();
            for (int id = 0; id < 4; ++id)
                scope << takeInTurn(&limiter, id, &order, &release);
            co_await QAyo::sleep(10ms);
            const int waiting = limiter.waitingCount();
            limiter.setCapacity(3); // two more slots: the first two waiters, in order
            co_await QAyo::sleep(10ms);
            afterRaise = order;
            held.release(); // one more: the third waiter
            co_await QAyo::sleep(10ms);
            release = true; // the holders end: the fourth gets its turn
            co_await scope;
            if (waiting != 4)
                throw std::runtime_error("expected 4 waiters, got " + std::to_string(waiting));
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(afterRaise, (QList<int>{0, 1}));
        QCOMPARE(order, (QList<int>{0, 1, 2, 3}));
        QCOMPARE(limiter.borrowed(), 0);
    }

    void capacityLoweredStopsNewGrantsOnly()
    {
        QAyo::Limiter limiter(3);
        std::vector<QAyo::LimiterToken> tokens;
        for (int i = 0; i < 3; ++i)
            tokens.push_back(limiter.tryAcquire());
        limiter.setCapacity(1);
        QCOMPARE(limiter.borrowed(), 3); // nothing taken back
        QCOMPARE(limiter.available(), 0);
        bool granted = false;
        auto waiter = [&]() -> QAyo::Task<> {
            QAyo::LimiterToken token = co_await limiter.acquire();
            granted = true;
        };
        QAyo::Scope scope;
        scope.asap(waiter);
        QTRY_COMPARE(limiter.waitingCount(), 1);
        tokens[0].release();
        tokens[1].release();
        spinFor(20ms);
        QVERIFY(!granted); // borrowed 1 of capacity 1: still full
        tokens[2].release();
        QTRY_VERIFY(granted);
        QTRY_COMPARE(limiter.borrowed(), 0);
    }

    void cancelledWaiterLeavesTheQueue()
    {
        QAyo::Limiter limiter(1);
        QAyo::LimiterToken held = limiter.tryAcquire();
        bool cancelled = false;
        QAyo::Scope scope;
        auto handle = scope.asap([&]() -> QAyo::Task<> {
            try {
                QAyo::LimiterToken token = co_await limiter.acquire();
            } catch (const QAyo::Cancelled &) {
                cancelled = true;
                throw;
            }
        });
        QTRY_COMPARE(limiter.waitingCount(), 1);
        handle.cancel();
        QTRY_VERIFY(cancelled);
        QCOMPARE(limiter.waitingCount(), 0);
        QCOMPARE(limiter.borrowed(), 1);
        held.release();
        QCOMPARE(limiter.borrowed(), 0);
        QCOMPARE(limiter.available(), 1);
    }

    void waitersWithdrawnInAnyOrderLeaveTheOthersInFifoOrder_data()
    {
        QTest::addColumn<bool>("spawns");
        QTest::addColumn<bool>("destroyLimiter");
        QTest::newRow("acquire, then granted") << false << false;
        QTest::newRow("spawns, then granted") << true << false;
        QTest::newRow("acquire, then the limiter is destroyed") << false << true;
        QTest::newRow("spawns, then the limiter is destroyed") << true << true;
    }

    void waitersWithdrawnInAnyOrderLeaveTheOthersInFifoOrder()
    {
        // 200 waiters; 150 of them (every id not divisible by 4) are cancelled in a shuffled
        // order, from the middle of the queue as well as its ends. The others keep their places.
        QFETCH(bool, spawns);
        QFETCH(bool, destroyLimiter);
        constexpr int count = 200;
        auto limiter = std::make_unique<QAyo::Limiter>(1);
        QAyo::LimiterToken held = limiter->tryAcquire();
        QList<int> order;
        int refused = 0;
        // Supervising: the refusals of a destroyed limiter are errors of the spawns; all are kept.
        QAyo::Scope scope({.supervise = destroyLimiter, .limiter = spawns ? limiter.get() : nullptr});
        QAyo::Limiter *shared = limiter.get();
        std::vector<QAyo::Handle<void>> handles;
        for (int i = 0; i < count; ++i) {
            if (spawns) {
                handles.push_back(scope.asap([&order, i] { order.append(i); }));
            } else {
                handles.push_back(scope.asap([&order, &refused, shared, i]() -> QAyo::Task<> {
                    try {
                        QAyo::LimiterToken token = co_await shared->acquire();
                        order.append(i);
                    } catch (const QAyo::InvalidStateError &) {
                        ++refused;
                    }
                }));
            }
        }
        QTRY_COMPARE(limiter->waitingCount(), count);
        for (int i : shuffledThreeQuarters(count))
            handles[std::size_t(i)].cancel();
        QTRY_COMPARE(limiter->waitingCount(), count / 4);
        QList<int> expected;
        for (int i = 0; i < count; i += 4)
            expected.append(i);
        if (destroyLimiter) {
            limiter.reset(); // the waiters left fail: only they, each once
            QVERIFY(QTest::qWaitFor([&] { return !scope.isActive(); }));
            QVERIFY(order.isEmpty());
            if (!spawns)
                QCOMPARE(refused, count / 4);
            else
                QCOMPARE(int(scope.errors().size()), count / 4);
            held.release();
            return;
        }
        held.release();
        QVERIFY(QTest::qWaitFor([&] { return !scope.isActive(); }));
        QCOMPARE(order, expected);
        QCOMPARE(limiter->borrowed(), 0);
        QCOMPARE(limiter->waitingCount(), 0);
    }

    void queuedTasksCancelledInAnyOrderLeaveTheOthersInFifoOrder()
    {
        // The same through a scope's own queue (maxConcurrency 1, the slot held by a first task):
        // 150 of 200 queued tasks cancelled in a shuffled order.
        constexpr int count = 200;
        bool release = false;
        QList<int> order;
        QAyo::Scope scope({.maxConcurrency = 1});
        scope.asap(waitUntil(&release));
        std::vector<QAyo::Handle<void>> handles;
        for (int i = 0; i < count; ++i)
            handles.push_back(scope.asap([&order, i] { order.append(i); }));
        QCOMPARE(scope.pendingCount(), count + 1);
        for (int i : shuffledThreeQuarters(count))
            handles[std::size_t(i)].cancel();
        QCOMPARE(scope.pendingCount(), count / 4 + 1);
        release = true;
        QVERIFY(QTest::qWaitFor([&] { return !scope.isActive(); }));
        QList<int> expected;
        for (int i = 0; i < count; i += 4)
            expected.append(i);
        QCOMPARE(order, expected);
    }

    void slotGrantedToACancelledWaiterIsPassedOn()
    {
        QAyo::Limiter limiter(1);
        QAyo::LimiterToken held = limiter.tryAcquire();
        bool secondGot = false;
        QAyo::Scope scope;
        auto first = scope.asap([&]() -> QAyo::Task<> { QAyo::LimiterToken t = co_await limiter.acquire(); });
        scope.asap([&]() -> QAyo::Task<> {
            QAyo::LimiterToken t = co_await limiter.acquire();
            secondGot = true;
        });
        QTRY_COMPARE(limiter.waitingCount(), 2);
        held.release(); // granted to the first waiter, on its way...
        first.cancel(); // ...which is cancelled before it resumes
        QTRY_VERIFY(secondGot);
        QTRY_VERIFY(first.isCancelled());
        QTRY_COMPARE(limiter.borrowed(), 0);
    }

    void spawnsWaitingForALimiterAreDroppedOnCancel()
    {
        QAyo::Limiter limiter(1);
        QAyo::LimiterToken held = limiter.tryAcquire();
        int ran = 0;
        auto scope = std::make_unique<QAyo::Scope>(QAyo::ScopeOptions{.maxConcurrency = 2, .limiter = &limiter});
        for (int i = 0; i < 5; ++i)
            scope->asap([&ran] { ++ran; });
        QTRY_COMPARE(limiter.waitingCount(), 2); // two admitted by maxConcurrency, both waiting
        QCOMPARE(scope->pendingCount(), 5);
        scope->cancel();
        QCOMPARE(limiter.waitingCount(), 0);
        QTRY_COMPARE(scope->pendingCount(), 0);
        QVERIFY(!scope->isActive());
        held.release();
        spinFor(10ms);
        QCOMPARE(ran, 0);
        QCOMPARE(limiter.borrowed(), 0);

        // Destroying a scope withdraws its requests too.
        held = limiter.tryAcquire();
        scope = std::make_unique<QAyo::Scope>(QAyo::ScopeOptions{.limiter = &limiter});
        scope->asap([&ran] { ++ran; });
        QTRY_COMPARE(limiter.waitingCount(), 1);
        scope.reset();
        QCOMPARE(limiter.waitingCount(), 0);
        held.release();
        QCOMPARE(limiter.borrowed(), 0);
        QCOMPARE(ran, 0);
    }

    void asideFunctionsShareALimiterAcrossScopes()
    {
        QAyo::Limiter limiter(2);
        Concurrency concurrency;
        std::atomic<int> finished{0};
        QThreadPool pool;
        pool.setMaxThreadCount(6);
        auto job = [&] {
            concurrency.enter();
            QThread::msleep(15);
            concurrency.leave();
            ++finished;
        };
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope first, second;
            for (int i = 0; i < 4; ++i) {
                first.aside(&limiter, job);
                second.asideIn(&pool, &limiter, job);
            }
            co_await first;
            co_await second;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(finished.load(), 8);
        QVERIFY2(concurrency.peak.load() <= 2, qPrintable(QString::number(concurrency.peak.load())));
        QCOMPARE(limiter.borrowed(), 0);
    }

    void awaitedAsideDrawsFromALimiter()
    {
        QAyo::Limiter limiter(1);
        Concurrency concurrency;
        auto job = [&](int value) {
            concurrency.enter();
            QThread::msleep(5);
            concurrency.leave();
            return value * 2;
        };
        int sum = 0;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            for (int i = 1; i <= 3; ++i)
                scope.asap([&, i]() -> QAyo::Task<> { sum += co_await QAyo::aside(&limiter, job, i); });
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(sum, 12);
        QCOMPARE(concurrency.peak.load(), 1);
        QAyo::Limiter *none = nullptr;
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, QAyo::aside(none, job, 1));
    }

    void scopesOnTwoThreadsShareALimiter()
    {
        QAyo::Limiter limiter(2);
        Concurrency concurrency;
        QThread worker;
        worker.start();
        auto *remote = new QAyo::Scope;
        remote->moveToThread(&worker);
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope local({.limiter = &limiter});
            QList<QAyo::Handle<void>> remoteHandles;
            for (int i = 0; i < 5; ++i) {
                remoteHandles.append(remote->asap(&limiter, busy(&concurrency, 5ms))); // posted there
                local << busy(&concurrency, 5ms);
            }
            for (const auto &handle : remoteHandles)
                co_await handle; // from this thread: a remote wait
            co_await local;
        };
        QAYO_TEST_RUN(body());
        QMetaObject::invokeMethod(remote, [remote] { delete remote; }, Qt::BlockingQueuedConnection);
        worker.quit();
        worker.wait();
        QVERIFY2(concurrency.peak.load() <= 2, qPrintable(QString::number(concurrency.peak.load())));
        QCOMPARE(concurrency.now.load(), 0);
        QCOMPARE(limiter.borrowed(), 0);
        QCOMPARE(limiter.waitingCount(), 0);
    }

    void waiterOnAnotherThreadFailsWhenTheLimiterIsDestroyed()
    {
        auto limiter = std::make_unique<QAyo::Limiter>(1);
        limiter->setObjectName(QStringLiteral("downloads"));
        QAyo::LimiterToken held = limiter->tryAcquire();
        QThread worker;
        worker.start();
        auto *remote = new QAyo::Scope;
        remote->moveToThread(&worker);
        std::atomic<int> calls{0};
        QAyo::Handle<void> handle = remote->asap(limiter.get(), [&] { ++calls; }); // posted there
        QTRY_COMPARE(limiter->waitingCount(), 1);
        limiter.reset(); // the refusal travels to the worker thread
        QTRY_VERIFY(handle.isFinished());
        QString error;
        try {
            handle.result();
        } catch (const QAyo::InvalidStateError &e) {
            error = e.message();
        }
        QMetaObject::invokeMethod(remote, [remote] { static_cast<void>(remote->errors()); delete remote; },
                                  Qt::BlockingQueuedConnection);
        worker.quit();
        worker.wait();
        QCOMPARE(calls.load(), 0);
        QVERIFY2(error.contains(QStringLiteral("'downloads'")), qPrintable(error));
        held.release(); // on this thread, after the limiter and the scope: harmless
    }

    void slotOnItsWayToAThreadThatEndsIsPassedOn_data()
    {
        QTest::addColumn<int>("waiters");
        QTest::addColumn<bool>("scopeLeftAlive");
        QTest::newRow("one waiter, its scope deleted on finished") << 1 << false;
        // The slot passed on goes to the second waiter, of the same dying thread.
        QTest::newRow("two waiters, their scope left alive") << 2 << true;
    }

    void slotOnItsWayToAThreadThatEndsIsPassedOn()
    {
        // A worker thread's task waits for the slot. The slot is granted while that thread is
        // busy and told to quit: it is posted there and never delivered, and the worker's scope
        // goes with the thread (deleteLater on finished, the usual worker pattern) or is left
        // alive. The slot must not go with them, not even to a second waiter of the same thread.
        QFETCH(int, waiters);
        QFETCH(bool, scopeLeftAlive);
        QAyo::Limiter limiter(1);
        QAyo::LimiterToken held = limiter.tryAcquire();
        QVERIFY(held.isHeld());
        Gate gate;
        BusyWorker side(&gate);
        QThread worker;
        auto *remote = new QAyo::Scope;
        remote->moveToThread(&worker);
        side.moveToThread(&worker);
        if (!scopeLeftAlive)
            connect(&worker, &QThread::finished, remote, &QObject::deleteLater);
        worker.start();
        std::atomic<int> calls{0};
        for (int i = 0; i < waiters; ++i)
            remote->asap(&limiter, [&] { ++calls; }); // posted there
        QTRY_COMPARE(limiter.waitingCount(), waiters);
        QMetaObject::invokeMethod(&side, "stayBusy", Qt::QueuedConnection);
        QVERIFY(QTest::qWaitFor([&] { return side.busy.load(); }));
        worker.quit(); // its loop ends as soon as stayBusy() returns
        held.release(); // granted to the worker's task: on its way to the busy thread
        QCOMPARE(limiter.borrowed(), 1);
        gate.open();
        QVERIFY(worker.wait(10000));
        QTRY_COMPARE(limiter.borrowed(), 0); // given back as the thread's QAyo context ended
        QCOMPARE(limiter.waitingCount(), 0);
        QCOMPARE(calls.load(), 0);
        QVERIFY(limiter.tryAcquire().isHeld());
        if (scopeLeftAlive)
            delete remote; // a scope of an ended thread: its tasks never ran
    }

    void slotGrantedToAThreadThatHasEndedIsPassedOn_data()
    {
        QTest::addColumn<int>("waiters");
        QTest::newRow("one") << 1;
        QTest::newRow("50 000") << 50000; // passed from one to the next without recursion
    }

    void slotGrantedToAThreadThatHasEndedIsPassedOn()
    {
        // The waiting tasks' thread has ended, their scope still alive (a plain thread that never
        // joined or destroyed it): the grant finds the thread gone and passes the slot on.
        QFETCH(int, waiters);
        QAyo::Limiter limiter(1);
        QAyo::LimiterToken held = limiter.tryAcquire();
        std::unique_ptr<QAyo::Scope> left;
        std::atomic<int> calls{0};
        std::thread([&] {
            left = std::make_unique<QAyo::Scope>();
            for (int i = 0; i < waiters; ++i)
                left->asap(&limiter, [&] { ++calls; }); // waits for the slot
        }).join(); // the thread and its QAyo context are gone
        QCOMPARE(limiter.waitingCount(), waiters);
        held.release();
        QCOMPARE(limiter.borrowed(), 0);
        QCOMPARE(limiter.waitingCount(), 0);
        QVERIFY(limiter.tryAcquire().isHeld());
        left.reset(); // the scope of an ended thread: its task never ran
        QCOMPARE(calls.load(), 0);
    }

    void tokensWorkAcrossThreads()
    {
        // Each task acquires on the main thread and hands the token to its aside function,
        // which releases it on a pool thread: the next waiter is woken on the main thread.
        QAyo::Limiter limiter(2);
        Concurrency concurrency;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            for (int i = 0; i < 6; ++i) {
                scope.asap([&]() -> QAyo::Task<> {
                    QAyo::LimiterToken slot = co_await limiter.acquire();
                    auto token = std::make_shared<QAyo::LimiterToken>(std::move(slot));
                    // Named, not a temporary inside the co_await: GCC 12 destroys those twice.
                    auto job = [token, &concurrency] {
                        concurrency.enter();
                        QThread::msleep(5);
                        concurrency.leave();
                        token->release(); // on the pool thread
                    };
                    auto handle = scope.aside(std::move(job));
                    co_await handle;
                });
            }
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QVERIFY(concurrency.peak.load() <= 2);
        QCOMPARE(limiter.borrowed(), 0);
    }

    void nullLimiterIsRejected()
    {
        QAyo::Scope scope;
        QAyo::Limiter *none = nullptr;
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, scope.asap(none, [] {}));
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, scope.asap(none, valueAfter(1ms, 1)));
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, scope.aside(none, [] {}));
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, scope.asideIn(QThreadPool::globalInstance(), none, [] {}));
        QVERIFY(!scope.isActive());
    }

    // --- start() ---------------------------------------------------------------------------

    void startReturnsTheValueWhileTheTaskRuns()
    {
        bool stillRunning = false;
        int port = 0;
        bool taskAliveAtResume = false;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            port = co_await scope.start(serveNumber, &stillRunning);
            taskAliveAtResume = scope.runningCount() == 1;
            co_await QAyo::sleep(5ms);
            scope.cancel();
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(port, 42);
        QVERIFY(taskAliveAtResume);
        QVERIFY(stillRunning);
    }

    void startWithoutValue()
    {
        QList<QString> steps;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            co_await scope.start([&](QAyo::Started<> started) -> QAyo::Task<> {
                steps << QStringLiteral("ready");
                started.started();
                co_await QAyo::sleep(5ms);
                steps << QStringLiteral("done");
            });
            steps << QStringLiteral("caller");
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(steps, (QList<QString>{QStringLiteral("ready"), QStringLiteral("caller"), QStringLiteral("done")}));
    }

    void startTypeCanBeGivenForGenericCallables()
    {
        QString value;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            value = co_await scope.start<QString>([](auto started, QString text) -> QAyo::Task<> {
                started.started(text + QStringLiteral("!"));
                co_return;
            }, QStringLiteral("hello"));
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(value, QStringLiteral("hello!"));
    }

    void startRethrowsAnEarlyErrorOnce()
    {
        QString caught;
        QStringList scopeErrors;
        bool siblingCancelled = false;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            scope << sleepForever(&siblingCancelled);
            try {
                co_await scope.start([](QAyo::Started<int>) -> QAyo::Task<> {
                    co_await QAyo::sleep(1ms);
                    throw std::runtime_error("bind failed");
                });
            } catch (const std::runtime_error &e) {
                caught = QString::fromUtf8(e.what());
            }
            scopeErrors = scope.errorMessages();
            scope.cancel();
            co_await scope; // does not throw: the error was the caller's, not the scope's
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(caught, QStringLiteral("bind failed"));
        QVERIFY2(scopeErrors.isEmpty(), qPrintable(scopeErrors.join(u'\n')));
        QVERIFY(siblingCancelled); // by the scope.cancel() above, not by the error
    }

    void startReportsAMissingStarted()
    {
        QString caught;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            try {
                co_await scope.start([](QAyo::Started<int>) -> QAyo::Task<> { co_await QAyo::sleep(1ms); });
            } catch (const QAyo::StartError &e) {
                caught = e.message();
            }
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QVERIFY2(caught.contains(QStringLiteral("started()")), qPrintable(caught));
    }

    void startedTwiceThrows()
    {
        QString second;
        int value = 0;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            value = co_await scope.start([&](QAyo::Started<int> started) -> QAyo::Task<> {
                started.started(1);
                try {
                    started.started(2);
                } catch (const QAyo::InvalidStateError &e) {
                    second = e.message();
                }
                co_return;
            });
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(value, 1);
        QVERIFY2(second.contains(QStringLiteral("second time")), qPrintable(second));
    }

    // Regression: started() on a copy of the handle after the start had already failed (the
    // task ended without calling it) was a silent no-op.
    void startedAfterTheStartFailedThrows()
    {
        std::optional<QAyo::Started<int>> kept;
        QString late;
        bool startErrorSeen = false;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            try {
                co_await scope.start([&](QAyo::Started<int> started) -> QAyo::Task<> {
                    kept.emplace(started);
                    co_return;
                });
            } catch (const QAyo::StartError &) {
                startErrorSeen = true;
            }
            try {
                kept->started(1);
            } catch (const QAyo::InvalidStateError &e) {
                late = e.message();
            }
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QVERIFY(startErrorSeen);
        QVERIFY2(late.contains(QStringLiteral("ended")), qPrintable(late));
    }

    void errorAfterStartedIsTheScopesError()
    {
        QString joinError;
        int value = 0;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            value = co_await scope.start([](QAyo::Started<int> started) -> QAyo::Task<> {
                started.started(7);
                co_await QAyo::sleep(5ms);
                throw std::runtime_error("later");
            });
            try {
                co_await scope;
            } catch (const std::runtime_error &e) {
                joinError = QString::fromUtf8(e.what());
            }
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(value, 7);
        QCOMPARE(joinError, QStringLiteral("later"));
    }

    void cancellingTheCallerCancelsTheStartingTask()
    {
        bool taskCancelled = false;
        QAyo::Scope servers;
        QAyo::Scope callers;
        auto caller = callers.asap([&]() -> QAyo::Task<> {
            co_await servers.start([&](QAyo::Started<int>) -> QAyo::Task<> { co_await sleepForever(&taskCancelled); });
        });
        QTRY_COMPARE(servers.runningCount(), 1);
        caller.cancel();
        QTRY_VERIFY(caller.isCancelled());
        QTRY_VERIFY(taskCancelled);
        QTRY_VERIFY(!servers.isActive());
        QVERIFY(servers.errors().isEmpty());
    }

    // Regression: an error of the task before started(), arriving while the caller was being
    // cancelled, was dropped: the caller threw Cancelled, and the error was not the scope's
    // either. Errors beat cancellation (as for joins): the caller rethrows it.
    void earlyErrorIsNotLostWhenTheCallerIsCancelledMeanwhile()
    {
        QString caught;
        bool sawCancelled = false;
        QAyo::Scope servers;
        QAyo::Scope callers;
        QAyo::Handle<void> caller;
        caller = callers.asap([&]() -> QAyo::Task<> {
            try {
                co_await servers.start([&](QAyo::Started<int>) -> QAyo::Task<> {
                    co_await QAyo::sleep(1ms);
                    caller.cancel(); // the caller is cancelled...
                    throw std::runtime_error("bind failed"); // ...as the task fails
                });
            } catch (const std::runtime_error &e) {
                caught = QString::fromUtf8(e.what());
            } catch (const QAyo::Cancelled &) {
                sawCancelled = true;
                throw;
            }
        });
        QTRY_VERIFY(caller.isFinished());
        QTRY_VERIFY(!servers.isActive());
        QVERIFY(!sawCancelled);
        QCOMPARE(caught, QStringLiteral("bind failed"));
    }

    void cancellingTheScopeOfCallerAndStartingTaskIsNoError()
    {
        bool serverCancelled = false;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope;
            scope.asap([&]() -> QAyo::Task<> {
                co_await scope.start([&](QAyo::Started<int>) -> QAyo::Task<> { co_await sleepForever(&serverCancelled); });
            });
            co_await QAyo::sleep(5ms);
            scope.cancel();
            co_await scope; // neither Cancelled nor TaskCancelledError is an error here
        };
        QAYO_TEST_RUN(body());
        QVERIFY(serverCancelled);
    }

    void startedTaskCancelledByItsScopeReportsIt()
    {
        QString caught;
        QAyo::Scope servers;
        auto body = [&]() -> QAyo::Task<> {
            try {
                co_await servers.start([](QAyo::Started<int>) -> QAyo::Task<> { co_await QAyo::sleep(1h); });
            } catch (const QAyo::TaskCancelledError &e) {
                caught = e.message();
            }
        };
        QAyo::Scope callers;
        auto handle = callers.asap(body);
        QTRY_COMPARE(servers.runningCount(), 1);
        servers.cancel();
        QTRY_VERIFY(handle.isFinished());
        QVERIFY2(caught.contains(QStringLiteral("cancelled")), qPrintable(caught));
    }

    void startedTaskSwallowingItsCancelReportsTheCancel()
    {
        // The task catches Cancelled and returns without started(): the start was cancelled; it
        // is not a task that forgot to call started() (StartError).
        QString caught;
        QAyo::Scope servers;
        auto swallowing = [](QAyo::Started<int>) -> QAyo::Task<> {
            try {
                co_await QAyo::sleep(1h);
            } catch (const QAyo::Cancelled &) {
            }
        };
        QAyo::Scope callers;
        auto handle = callers.asap(startCatching(&servers, swallowing, &caught));
        QTRY_COMPARE(servers.runningCount(), 1);
        servers.cancel();
        QTRY_VERIFY(handle.isFinished());
        QVERIFY2(caught.contains(QStringLiteral("cancelled")) && !caught.startsWith(QStringLiteral("StartError")),
                 qPrintable(caught));
    }

    void startedCallableCancelledWithoutCheckpointReportsTheCancel()
    {
        // A plain callable has no checkpoint to throw Cancelled at: it returns normally, but its
        // task was cancelled before started(), and that is what the caller hears.
        QString caught;
        QAyo::Scope servers;
        QAyo::Scope callers;
        auto handle = callers.asap(startCatching(&servers, [&](QAyo::Started<>) { servers.cancel(); }, &caught));
        QTRY_VERIFY(handle.isFinished());
        QVERIFY2(caught.contains(QStringLiteral("cancelled")) && !caught.startsWith(QStringLiteral("StartError")),
                 qPrintable(caught));
    }

    // Regression: a start task dropped before it ran (its scope cancelled, or queued behind
    // maxConcurrency when the cancel came) never reached bodyEnded(): the caller hung.
    void startIntoACancelledScopeReportsIt()
    {
        QString caught;
        QAyo::Scope servers;
        servers.cancel();
        QAyo::Scope callers;
        auto handle = callers.asap([&]() -> QAyo::Task<> {
            try {
                co_await servers.start([](QAyo::Started<int>) -> QAyo::Task<> { co_await QAyo::sleep(1h); });
            } catch (const QAyo::TaskCancelledError &e) {
                caught = e.message();
            }
        });
        QTRY_VERIFY_WITH_TIMEOUT(handle.isFinished(), 5000);
        QVERIFY2(caught.contains(QStringLiteral("cancelled")), qPrintable(caught));
    }

    void startQueuedBehindMaxConcurrencyReportsItsDrop()
    {
        QString caught;
        bool busyCancelled = false;
        QAyo::Scope servers({.maxConcurrency = 1});
        servers << sleepForever(&busyCancelled);
        QAyo::Scope callers;
        auto handle = callers.asap([&]() -> QAyo::Task<> {
            try {
                co_await servers.start([](QAyo::Started<int>) -> QAyo::Task<> { co_await QAyo::sleep(1h); });
            } catch (const QAyo::TaskCancelledError &e) {
                caught = e.message();
            }
        });
        QTRY_VERIFY(servers.runningCount() == 1 && servers.pendingCount() == 1); // start() is queued
        servers.cancel();
        QTRY_VERIFY_WITH_TIMEOUT(handle.isFinished(), 5000);
        QVERIFY2(caught.contains(QStringLiteral("cancelled")), qPrintable(caught));
        QTRY_VERIFY(busyCancelled);
    }

    // Regression: destroying the scope destroyed the start task's frame without telling the
    // caller, which waited forever.
    void startIntoAScopeDestroyedBeforeStartedReportsIt()
    {
        QString caught;
        auto servers = std::make_unique<QAyo::Scope>();
        QAyo::Scope callers;
        auto handle = callers.asap([&, s = servers.get()]() -> QAyo::Task<> {
            try {
                co_await s->start([](QAyo::Started<int>) -> QAyo::Task<> { co_await QAyo::sleep(1h); });
            } catch (const QAyo::TaskCancelledError &e) {
                caught = e.message();
            }
        });
        QTRY_COMPARE(servers->runningCount(), 1);
        servers.reset();
        QTRY_VERIFY_WITH_TIMEOUT(handle.isFinished(), 5000);
        QVERIFY2(caught.contains(QStringLiteral("cancelled")), qPrintable(caught));
    }

    void startIntoAClosedScopeThrows()
    {
        QAyo::Scope scope;
        auto join = [&]() -> QAyo::Task<> { co_await scope; };
        QAYO_TEST_RUN(join());
        QVERIFY_THROWS_EXCEPTION(QAyo::ScopeClosedError,
                                 static_cast<void>(scope.start([](QAyo::Started<>) {})));
    }

    void startFromAnotherThreadIsRejected()
    {
        QAyo::Scope scope;
        QString error;
        std::thread other([&] {
            try {
                static_cast<void>(scope.start([](QAyo::Started<>) {}));
            } catch (const QAyo::InvalidStateError &e) {
                error = e.message();
            }
        });
        other.join();
        QVERIFY2(error.contains(QStringLiteral("thread")), qPrintable(error));
        QVERIFY(!scope.isActive());
    }

    // start() into a scope whose last slot the caller holds: it could never run (docs/limits.md).

    void startIntoTheCallersOwnFullScopeThrows()
    {
        QString caught;
        bool serverRan = false;
        QAyo::Scope scope({.maxConcurrency = 1, .name = QStringLiteral("servers")});
        auto handle = scope.asap([&]() -> QAyo::Task<> {
            try {
                co_await scope.start([&](QAyo::Started<>) { serverRan = true; });
            } catch (const QAyo::InvalidStateError &e) {
                caught = e.message();
            }
        });
        QTRY_VERIFY_WITH_TIMEOUT(handle.isFinished(), 5000);
        QVERIFY2(caught.contains(QStringLiteral("servers")) && caught.contains(QStringLiteral("maxConcurrency")),
                 qPrintable(caught));
        QAYO_TEST_JOIN(scope);
        QVERIFY(!serverRan); // the start's task was dropped, never run
        QCOMPARE(scope.errors().size(), 0);
    }

    void startFromANestedScopeOfTheSlotHolderThrows()
    {
        QString caught;
        QAyo::Scope scope({.maxConcurrency = 1});
        scope.asap([&]() -> QAyo::Task<> {
            // The task holding the slot waits for this block scope, which waits for the start.
            co_await QAyo::scope([&](QAyo::Scope &) -> QAyo::Task<> {
                try {
                    co_await scope.start([](QAyo::Started<>) {});
                } catch (const QAyo::InvalidStateError &e) {
                    caught = e.message();
                }
            });
        });
        QTRY_VERIFY_WITH_TIMEOUT(!scope.isActive(), 5000);
        QVERIFY2(caught.contains(QStringLiteral("maxConcurrency")), qPrintable(caught));
    }

    void startNeedingTheLimiterSlotTheCallerHoldsThrows()
    {
        QString caught;
        QAyo::Limiter limiter(1);
        limiter.setObjectName(QStringLiteral("connections"));
        QAyo::Scope scope({.limiter = &limiter});
        scope.asap([&]() -> QAyo::Task<> {
            try {
                auto operation = scope.start([](QAyo::Started<>) {}); // awaited as an lvalue
                co_await operation;
            } catch (const QAyo::InvalidStateError &e) {
                caught = e.message();
            }
        });
        QTRY_VERIFY_WITH_TIMEOUT(!scope.isActive(), 5000);
        QVERIFY2(caught.contains(QStringLiteral("'connections'")), qPrintable(caught));
        QCOMPARE(limiter.borrowed(), 0);
        QCOMPARE(limiter.waitingCount(), 0);
    }

    void startIntoTheOwnScopeWaitsForASlotOthersFree()
    {
        // The caller holds one of two slots; the other holder ends, so the start can run.
        int value = 0;
        QAyo::Scope scope({.maxConcurrency = 2});
        scope << valueAfter(20ms, 1);
        scope.asap([&]() -> QAyo::Task<> {
            value = co_await scope.start([](QAyo::Started<int> started) { started.started(7); });
        });
        QAYO_TEST_JOIN(scope);
        QCOMPARE(value, 7);
    }

    void startIntoTheOwnScopeWaitsForALimiterSlotOthersFree()
    {
        QAyo::Limiter limiter(2);
        QAyo::LimiterToken other = limiter.tryAcquire(); // a holder outside the scope
        int value = 0;
        QAyo::Scope scope({.limiter = &limiter});
        scope.asap([&]() -> QAyo::Task<> {
            value = co_await scope.start([](QAyo::Started<int> started) { started.started(8); });
        });
        QTRY_COMPARE(limiter.waitingCount(), 1);
        other.release();
        QAYO_TEST_JOIN(scope);
        QCOMPARE(value, 8);
    }

    // --- gather ----------------------------------------------------------------------------

    void gatherReturnsResultsInArgumentOrder()
    {
        Concurrency concurrency;
        std::tuple<int, int, std::monostate, QString> results;
        auto body = [&]() -> QAyo::Task<> {
            results = co_await QAyo::gather(valueAfter(30ms, 1, &concurrency), valueAfter(5ms, 2, &concurrency),
                                            busy(&concurrency, 10ms), [] { return QStringLiteral("plain"); });
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(std::get<0>(results), 1);
        QCOMPARE(std::get<1>(results), 2);
        QCOMPARE(std::get<3>(results), QStringLiteral("plain"));
        QCOMPARE(concurrency.peak.load(), 3); // concurrent, not one after the other
    }

    void gatherFirstErrorCancelsTheOthers()
    {
        bool otherCancelled = false;
        QString caught;
        auto body = [&]() -> QAyo::Task<> {
            try {
                co_await QAyo::gather(sleepForever(&otherCancelled), failAfter(5ms, QStringLiteral("boom")),
                                      valueAfter(1h, 3));
            } catch (const std::runtime_error &e) {
                caught = QString::fromUtf8(e.what());
            }
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(caught, QStringLiteral("boom"));
        QVERIFY(otherCancelled);
    }

    void gatherOverARange()
    {
        QList<int> values;
        Concurrency concurrency;
        auto body = [&]() -> QAyo::Task<> {
            std::vector<QAyo::Task<int>> tasks;
            for (int i = 0; i < 5; ++i)
                tasks.push_back(valueAfter(std::chrono::milliseconds(25 - 5 * i), i, &concurrency));
            values = co_await QAyo::gather(std::move(tasks));
            std::vector<QAyo::Task<>> none;
            co_await QAyo::gather(std::move(none)); // empty: returns at once
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(values, (QList<int>{0, 1, 2, 3, 4}));
        QCOMPARE(concurrency.peak.load(), 5);
    }

    void gatherIsCancelledWithItsTask()
    {
        bool firstCancelled = false;
        bool secondCancelled = false;
        QAyo::Scope scope;
        auto handle = scope.asap([&]() -> QAyo::Task<> {
            co_await QAyo::gather(sleepForever(&firstCancelled), sleepForever(&secondCancelled));
        });
        spinFor(10ms);
        handle.cancel();
        QTRY_VERIFY(handle.isCancelled());
        QVERIFY(firstCancelled);
        QVERIFY(secondCancelled);
    }
};

QTEST_GUILESS_MAIN(LimitsTest)
#include "tst_limits.moc"
