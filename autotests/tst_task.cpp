// SPDX-License-Identifier: MIT
// QAyo::Task: laziness, results, exceptions, inline awaiting, interop with QCoro.
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QTest>
#include <QTimer>

#include <qcoro/qcorotimer.h>

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
