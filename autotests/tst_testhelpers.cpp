// SPDX-License-Identifier: MIT
// The QAyo::Test helpers themselves: run() and join() return, rethrow, and give up at their
// real-time deadline with a TimeoutError that says what did not finish. (That the macros really
// fail a test is shown by the autotests/willfail programs.)
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QTest>

#include <stdexcept>

using namespace std::chrono_literals;
using namespace TestHelpers;

class TestHelpersTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    void describeNamesTheErrorAndToleratesNone()
    {
        QCOMPARE(QAyo::Test::describe(std::exception_ptr()), QStringLiteral("(no error)"));
        QCOMPARE(QAyo::Test::describe(std::make_exception_ptr(std::runtime_error("boom"))),
                 QStringLiteral("boom"));
        QCOMPARE(QAyo::Test::describe(std::make_exception_ptr(QAyo::Cancelled())),
                 QStringLiteral("QAyo::Cancelled"));
    }

    void runReturnsTheValueOrRethrows()
    {
        auto answer = []() -> QAyo::Task<int> {
            co_await QAyo::checkpoint();
            co_return 42;
        };
        QCOMPARE(QAyo::Test::run(answer()), 42);
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, QAyo::Test::run(failAfter(1ms, QStringLiteral("x"))));
    }

    void runGivesUpAtItsDeadline()
    {
        bool cancelled = false;
        QString message;
        try {
            QAyo::Test::run(sleepForever(&cancelled), 50ms);
        } catch (const QAyo::TimeoutError &e) {
            message = e.message();
        }
        QCOMPARE(message, QStringLiteral("QAyo::Test::run: the task did not finish within 50 ms"));
        QVERIFY(cancelled); // the hung task was cancelled and unwound, not left behind
    }

    void joinWaitsForEveryTask()
    {
        QAyo::Scope scope;
        int done = 0;
        for (int i = 0; i < 3; ++i) {
            scope.asap([&done, i]() -> QAyo::Task<> {
                co_await QAyo::sleep(std::chrono::milliseconds(i + 1));
                ++done;
            });
        }
        QAYO_TEST_JOIN(scope);
        QCOMPARE(done, 3);
        QVERIFY(scope.isFinished());
    }

    void joinRethrowsTheScopesFirstError()
    {
        QAyo::Scope scope;
        scope << failAfter(1ms, QStringLiteral("first")) << failAfter(1h, QStringLiteral("never"));
        QString message;
        try {
            QAyo::Test::join(scope);
        } catch (const std::runtime_error &e) {
            message = QString::fromUtf8(e.what());
        }
        QCOMPARE(message, QStringLiteral("first"));
        QVERIFY(scope.isFinished());
    }

    void joinGivesUpAtItsDeadlineAndLeavesTheScopeAlone()
    {
        QAyo::Scope scope({.name = QStringLiteral("slow")});
        bool cancelled = false;
        scope.asap(sleepForever(&cancelled));
        QString message;
        try {
            QAyo::Test::join(scope, 50ms);
        } catch (const QAyo::TimeoutError &e) {
            message = e.message();
        }
        QCOMPARE(message, QStringLiteral("QAyo::Test::join: the join of scope \"slow\" did not finish "
                                         "within 50 ms"));
        QVERIFY(!cancelled);
        QCOMPARE(scope.runningCount(), 1);
        scope.cancel();
        QAYO_TEST_JOIN(scope);
        QVERIFY(cancelled);
    }
};

QTEST_GUILESS_MAIN(TestHelpersTest)
#include "tst_testhelpers.moc"
