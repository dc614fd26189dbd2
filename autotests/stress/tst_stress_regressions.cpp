// SPDX-License-Identifier: MIT
// Library bugs the randomized stress found, each pinned by a small deterministic test.
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QRegularExpression>
#include <QTest>

#include <qcoro/qcorotask.h>

#include <optional>
#include <thread>

using namespace std::chrono_literals;

class tst_StressRegressions : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    //! Found by tst_stress (cross-thread episode, seed 1): a spawn made from another thread that
    //! arrived after the scope was cancelled was dropped without looking at the join, so a join
    //! waiting only for that spawn never returned.
    void joinOfACancelledScopeReturnsWhenALateCrossThreadSpawnIsDropped()
    {
        QAyo::Scope scope;
        bool ran = false;
        std::optional<QAyo::Handle<void>> handle;
        auto body = [&]() -> QAyo::Task<> {
            scope.cancel();
            std::thread spawner([&] { handle = scope.asap([&ran] { ran = true; }); });
            spawner.join(); // the spawn is on its way: the join must wait for it, then return
            co_await scope;
        };
        std::exception_ptr error;
        try {
            QAyo::Test::run(body(), 5s); // hung before the fix: TimeoutError
        } catch (...) {
            error = std::current_exception();
        }
        if (error)
            QFAIL(qPrintable(QAyo::Test::describe(error)));
        QVERIFY(scope.isFinished());
        QVERIFY(handle->isCancelled());
        QVERIFY(!ran);
    }

    //! Found by tst_stress (errors thrown == errors observed): an adopted QCoro task (or aside
    //! function) that failed after its scope was destroyed dropped the error without a word.
    void errorOfWorkOrphanedByADestroyedScopeIsLogged()
    {
        // The QCoro task waits on a gate the test opens after the scope is gone. (The awaiter
        // holds a pointer: QCoro may copy awaiters.)
        struct GateAwaiter
        {
            std::coroutine_handle<> *slot;
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<> h) const noexcept { *slot = h; }
            void await_resume() const noexcept {}
        };
        std::coroutine_handle<> gate;
        auto failLater = [](std::coroutine_handle<> *slot) -> QCoro::Task<> {
            co_await GateAwaiter { slot };
            throw std::runtime_error("orphaned failure");
        };
        auto *scope = new QAyo::Scope;
        scope->asap(failLater(&gate)); // running already: the scope cannot interrupt it
        QVERIFY(TestHelpers::spinUntil([scope] { return scope->runningCount() == 1; }));
        delete scope; // orphans it
        QVERIFY(gate);
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("failed after its scope was destroyed.*orphaned failure")));
        gate.resume();
        QVERIFY(TestHelpers::spinUntil([] { return QAyo::Test::unfinishedTasks() == 0; }));
    }
};

QTEST_GUILESS_MAIN(tst_StressRegressions)
#include "tst_stress_regressions.moc"
