// SPDX-License-Identifier: MIT
// QAyo::Task: laziness, results, exceptions, inline awaiting, interop with QCoro.
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QTest>
#include <QTimer>

#include <qcoro/qcorotimer.h>

#include <memory>

using namespace std::chrono_literals;
using namespace TestHelpers;

class TaskTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    void taskIsLazy()
    {
        bool ran = false;
        auto make = [&ran]() -> QAyo::Task<int> {
            ran = true;
            co_return 1;
        };
        {
            auto task = make();
            QVERIFY(task.isValid());
            QVERIFY(!ran);
        } // destroyed before it started: never runs
        QVERIFY(!ran);
    }

    void moveOnlyResultGoesToTheFirstAwaitOnly()
    {
        QAyo::Scope scope;
        auto handle = scope.asap([]() -> QAyo::Task<std::unique_ptr<int>> { co_return std::make_unique<int>(7); });
        handle.setName(QStringLiteral("maker"));
        int first = 0;
        QString second;
        auto body = [&]() -> QAyo::Task<> {
            std::unique_ptr<int> value = co_await handle;
            first = value ? *value : -1;
            try {
                std::unique_ptr<int> again = co_await handle;
                second = again ? QStringLiteral("a value") : QStringLiteral("a moved-from value");
            } catch (const QAyo::InvalidStateError &e) {
                second = QString::fromUtf8(e.what());
            }
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(first, 7);
        QVERIFY2(second.contains(QStringLiteral("task 'maker' (a move-only type) was taken by an earlier co_await")),
                 qPrintable(second));
        QAYO_TEST_JOIN(scope);
    }

    void copyableResultGoesToEveryAwait()
    {
        QAyo::Scope scope;
        auto handle = scope.asap([]() -> QAyo::Task<QString> { co_return QStringLiteral("x"); });
        QString joined;
        auto body = [&]() -> QAyo::Task<> {
            joined += co_await handle;
            joined += co_await handle;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(joined, QStringLiteral("xx"));
        QAYO_TEST_JOIN(scope);
    }

    void awaitSuspendThatThrowsLeavesNoHookBehind()
    {
        // An await_suspend that throws did not suspend: the task goes on with the exception, and
        // nothing may still point at the dead awaiter or claim the task waits on foreign code.
        struct ThrowingForeign
        {
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<>) { throw std::runtime_error("foreign refused"); }
            void await_resume() const noexcept {}
        };
        struct ThrowingAware final : QAyo::detail::CancelHook
        {
            int *cancels;
            explicit ThrowingAware(int *c) : cancels(c) {}
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<>) { throw std::runtime_error("aware refused"); }
            void await_resume() const noexcept {}
            void cancelRequested() noexcept override { ++*cancels; }
        };
        int cancels = 0;
        QStringList caught;
        QStringList leftBehind;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::detail::TaskRecord *record = co_await QAyo::detail::CurrentRecordRequest{};
            try {
                co_await ThrowingForeign{};
            } catch (const std::runtime_error &e) {
                caught << QString::fromUtf8(e.what());
            }
            if (record->suspendedForeign)
                leftBehind << QStringLiteral("foreign: suspendedForeign");
            try {
                co_await ThrowingAware{&cancels};
            } catch (const std::runtime_error &e) {
                caught << QString::fromUtf8(e.what());
            }
            if (record->hook)
                leftBehind << QStringLiteral("aware: hook");
            co_await QAyo::sleep(1h); // cancelled here: must wake through its own hook only
        };
        QAyo::Scope scope;
        auto handle = scope.asap(body);
        QVERIFY(spinUntil([&] { return caught.size() == 2; }));
        handle.cancel();
        QAYO_TEST_JOIN(scope);
        QCOMPARE(caught, (QStringList{QStringLiteral("foreign refused"), QStringLiteral("aware refused")}));
        QCOMPARE(leftBehind, QStringList());
        QCOMPARE(cancels, 0);
        QVERIFY(handle.isCancelled());
    }

    void awaitedTaskReturnsValue()
    {
        auto inner = []() -> QAyo::Task<int> { co_return 21; };
        auto outer = [inner]() -> QAyo::Task<int> {
            const int a = co_await inner();
            co_return a * 2;
        };
        QCOMPARE(QAyo::Test::run(outer()), 42);
    }

    void exceptionPropagatesToAwaiter()
    {
        auto failing = []() -> QAyo::Task<int> {
            co_await QAyo::checkpoint();
            throw std::runtime_error("boom");
        };
        auto outer = [failing]() -> QAyo::Task<QString> {
            try {
                co_await failing();
            } catch (const std::runtime_error &e) {
                co_return QString::fromUtf8(e.what());
            }
            co_return QString();
        };
        QCOMPARE(QAyo::Test::run(outer()), QStringLiteral("boom"));
    }

    void movedFromTaskIsRejected()
    {
        auto make = []() -> QAyo::Task<> { co_return; };
        auto task = make();
        auto other = std::move(task);
        QVERIFY(!task.isValid());
        QAyo::Scope scope;
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, scope.asap(std::move(task)));
    }

    void awaitsQTimerThroughQCoro()
    {
        auto body = []() -> QAyo::Task<int> {
            QTimer timer;
            timer.setSingleShot(true);
            timer.start(5ms);
            co_await &timer;
            co_return 7;
        };
        QCOMPARE(QAyo::Test::run(body()), 7);
    }

    void awaitsQCoroTask()
    {
        auto qcoro = []() -> QCoro::Task<int> {
            QTimer timer;
            timer.start(5ms);
            co_await timer;
            co_return 5;
        };
        auto body = [qcoro]() -> QAyo::Task<int> { co_return co_await qcoro() + 1; };
        QCOMPARE(QAyo::Test::run(body()), 6);
    }

    void awaitedFromQCoroTask()
    {
        auto qayo = []() -> QAyo::Task<int> {
            co_await QAyo::sleep(1ms);
            co_return 3;
        };
        int result = 0;
        bool done = false;
        auto driver = [&]() -> QCoro::Task<> {
            result = co_await qayo();
            done = true;
        };
        QCoro::Task<> running = driver();
        QVERIFY(spinUntil([&] { return done; }));
        QCOMPARE(result, 3);
    }
};

QTEST_GUILESS_MAIN(TaskTest)
#include "tst_task.moc"
