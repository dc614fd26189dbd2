// SPDX-License-Identifier: MIT
// Allocation failure: every path that spawns, schedules or draws from a limiter, with the k-th
// allocation of task memory (records, frames, limiter tickets) failing, for k = 1, 2, ... until
// a run passes without the failure being reached. Each time:
// - the call either succeeds or throws std::bad_alloc or a QAyo error (never terminates),
// - the scope's join returns (with such an error or none), and then
// - the scope's counts are back to zero, no task is left unfinished, nothing leaked (ASan/LSan,
//   scripts/test --sanitize).
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>
#include <QAyo/detail/taskmemory.h>

#include <QTest>

#include <qcoro/qcorotask.h>

#include <functional>
#include <new>

using namespace std::chrono_literals;
using namespace TestHelpers;

namespace {

//! A scenario: spawns into \a scope (the calls may throw); the test joins the scope afterwards.
using Scenario = std::function<void(QAyo::Scope &scope)>;

QAyo::Task<int> valueAfterCheckpoint(int value)
{
    co_await QAyo::checkpoint();
    co_return value;
}

//! "" if \a error is an acceptable outcome of an allocation failure, else what it was.
QString unexpected(std::exception_ptr error)
{
    if (!error)
        return {};
    try {
        std::rethrow_exception(error);
    } catch (const std::bad_alloc &) {
        return {};
    } catch (const QAyo::Error &) {
        return {};
    } catch (...) {
        return QAyo::Test::describe(std::current_exception());
    }
}

//! Joins \a scope; a join that cannot make its own frame (the failure was injected there) is
//! repeated: the failure happens once.
std::exception_ptr joinScope(QAyo::Scope &scope)
{
    for (int attempt = 0; attempt < 2; ++attempt) {
        try {
            QAyo::Test::join(scope);
            return {};
        } catch (const std::bad_alloc &) {
            if (attempt == 1)
                return std::current_exception();
        } catch (...) {
            return std::current_exception();
        }
    }
    return {};
}

} // namespace

class AllocFaultsTest : public QObject
{
    Q_OBJECT

private:
    using ScopeOptionsFactory = std::function<QAyo::ScopeOptions()>;

    //! Runs \a scenario with the k-th task memory allocation failing, k = 1, 2, ...
    void runFailingEachAllocation(const Scenario &scenario, ScopeOptionsFactory makeOptions = {})
    {
        for (int k = 1;; ++k) {
            bool injected = false;
            {
                QAyo::Scope scope(makeOptions ? makeOptions() : QAyo::ScopeOptions{});
                QAyo::detail::failTaskMemoryAllocation(k);
                std::exception_ptr thrown;
                try {
                    scenario(scope);
                } catch (...) {
                    thrown = std::current_exception();
                }
                QVERIFY2(unexpected(thrown).isEmpty(), qPrintable(QStringLiteral("k=%1: the call threw %2")
                                                                      .arg(k)
                                                                      .arg(unexpected(thrown))));
                const std::exception_ptr joined = joinScope(scope);
                injected = !QAyo::detail::taskMemoryFailurePending();
                QAyo::detail::failTaskMemoryAllocation(0);
                QVERIFY2(unexpected(joined).isEmpty(), qPrintable(QStringLiteral("k=%1: the join threw %2")
                                                                      .arg(k)
                                                                      .arg(unexpected(joined))));
                QCOMPARE(scope.pendingCount(), 0);
                QCOMPARE(scope.runningCount(), 0);
                QVERIFY(!scope.isActive());
                static_cast<void>(scope.errors()); // observed
            }
            QVERIFY2(QAyo::Test::waitForNoTasks() == 0, qPrintable(QStringLiteral("k=%1: tasks left").arg(k)));
            if (!injected) {
                qInfo("%d allocations tried", k - 1);
                return; // this run reached no failure: every allocation of the scenario was tried
            }
            QVERIFY2(k < 500, "the scenario never ran without an injected failure");
        }
    }

private Q_SLOTS:
    void cleanup()
    {
        QAyo::detail::failTaskMemoryAllocation(0);
        QAYO_VERIFY_NO_TASKS_LEFT();
    }

    void asapTask()
    {
        runFailingEachAllocation([](QAyo::Scope &scope) {
            scope.asap(valueAfterCheckpoint(1));
            scope.asap(valueAfterCheckpoint(2));
        });
    }

    void asapCallable()
    {
        runFailingEachAllocation([](QAyo::Scope &scope) {
            scope.asap([] { return 1; });
            scope.asap([]() -> QAyo::Task<int> { co_return co_await valueAfterCheckpoint(2); });
        });
    }

    void asapQCoroTask()
    {
        runFailingEachAllocation([](QAyo::Scope &scope) {
            scope.asap([]() -> QCoro::Task<int> { co_return 3; });
        });
    }

    void mapAndAll()
    {
        runFailingEachAllocation([](QAyo::Scope &scope) {
            auto results = scope.map([](int i) { return valueAfterCheckpoint(i); }, QList<int>{1, 2, 3});
            scope.asap(std::move(results));
            scope.all([] { return 1; }, valueAfterCheckpoint(2));
        });
    }

    void afterAndEveryFiring()
    {
        runFailingEachAllocation([](QAyo::Scope &scope) {
            scope.after(1ms, [] { return 1; });
            auto calls = std::make_shared<int>(0);
            QAyo::Scheduled ticking = scope.every(1ms, [calls]() -> QAyo::Task<> {
                ++*calls;
                co_await QAyo::checkpoint();
            });
            // Three calls, or the failure of one (the scope is then cancelled, the schedule over).
            spinUntil([&] { return *calls >= 3 || scope.isCancelled(); }, 5s);
            ticking.cancel();
        });
    }

    void asapDrawingFromALimiter()
    {
        QAyo::Limiter limiter(1);
        runFailingEachAllocation([&limiter](QAyo::Scope &scope) {
            scope.asap(&limiter, valueAfterCheckpoint(1));
            scope.asap(&limiter, [] { return 2; });
        });
        QCOMPARE(limiter.available(), 1);
    }

    void asapIntoAScopeWithALimiter()
    {
        QAyo::Limiter limiter(1);
        runFailingEachAllocation(
            [](QAyo::Scope &scope) {
                scope.asap(valueAfterCheckpoint(1));
                scope.asap([] { return 2; });
            },
            [&limiter] { return QAyo::ScopeOptions{.limiter = &limiter}; });
        QCOMPARE(limiter.available(), 1);
    }

    void start()
    {
        runFailingEachAllocation([](QAyo::Scope &scope) {
            auto serve = [](QAyo::Started<int> started) -> QAyo::Task<> {
                co_await QAyo::checkpoint();
                started.started(7);
                co_await QAyo::checkpoint();
            };
            auto caller = [&scope, serve]() -> QAyo::Task<int> { co_return co_await scope.start(serve); };
            QAyo::Test::run(caller());
        });
    }

    void withTimeout()
    {
        runFailingEachAllocation([](QAyo::Scope &scope) {
            scope.asap([]() -> QAyo::Task<int> { co_return co_await QAyo::withTimeout(1h, valueAfterCheckpoint(4)); });
        });
    }
};

QTEST_GUILESS_MAIN(AllocFaultsTest)
#include "tst_allocfaults.moc"
