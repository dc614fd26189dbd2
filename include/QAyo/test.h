// SPDX-License-Identifier: MIT
#pragma once

// Helpers for Qt Test suites (link QAyo::Test).

#include <QAyo/scope.h>
#include <QAyo/task.h>
#include <QAyo/virtualclock.h>

#include <QString>

#include <chrono>
#include <functional>
#include <optional>

namespace QAyo::Test {

namespace detail {
//! Spins the calling thread's event loop until \a done returns true or \a deadline passes.
//! Returns false on deadline.
QAYO_TEST_EXPORT bool spinUntil(const std::function<bool()> &done, std::chrono::milliseconds deadline);
//! Spins until \a finished returns true, then lets \a runner settle. If \a deadline passes first,
//! cancels \a runner, gives it a moment to unwind and throws TimeoutError("<what> did not finish
//! within N ms"). What run() and join() share.
QAYO_TEST_EXPORT void finishOrThrow(Scope &runner, const std::function<bool()> &finished,
                                    std::chrono::milliseconds deadline, const QString &what);
} // namespace detail

//! Runs \a task to completion in a fresh root scope, spinning the event loop; returns its value.
/*!
 * Rethrows what the task throws. If \a deadline (real time) passes first, the task is
 * cancelled, given a moment to unwind, and TimeoutError is thrown: a hung coroutine fails the
 * test instead of hanging it. Use it from a test slot, outside coroutines, and check the
 * returned value with QCOMPARE (QVERIFY/QCOMPARE cannot be used inside a coroutine).
 */
template<typename T>
T run(Task<T> task, std::chrono::milliseconds deadline = std::chrono::seconds(10))
{
    Scope scope({.name = QStringLiteral("QAyo::Test::run")});
    Handle<T> handle = scope.asap(std::move(task));
    detail::finishOrThrow(scope, [&] { return handle.isFinished(); }, deadline,
                          QStringLiteral("QAyo::Test::run: the task"));
    return handle.result();
}

//! Joins \a scope from a test slot (co_await scope, run like run() runs a task); the event loop
//! spins until every task of the scope that holds exit has ended.
/*!
 * Rethrows what the join throws: the scope's first error, or TimeoutError from a scope with
 * timeoutThrows that timed out. If \a deadline (real time) passes first, the join is abandoned
 * (the scope itself is left as it is) and TimeoutError "QAyo::Test::join: the join of scope
 * \"name\" did not finish within N ms" is thrown. Like run(): from a test slot, not in a coroutine.
 */
QAYO_TEST_EXPORT void join(Scope &scope, std::chrono::milliseconds deadline = std::chrono::seconds(10));

//! Tasks created and not yet ended, on all threads. Zero between tests of a clean suite.
inline int unfinishedTasks() noexcept
{
    return QAyo::detail::unfinishedTaskCount();
}

//! Waits up to \a grace for every task to end; returns the number still unfinished.
QAYO_TEST_EXPORT int waitForNoTasks(std::chrono::milliseconds grace = std::chrono::seconds(2));

//! The message of an exception escaping a test's task, for a test failure ("(no error)" for a
//! null \a error).
QAYO_TEST_EXPORT QString describe(std::exception_ptr error);

} // namespace QAyo::Test

//! Runs \a statement; an exception escaping it fails the test with "<prefix><message>".
//! The body of QAYO_TEST_RUN, QAYO_TEST_RUN_INTO and QAYO_TEST_JOIN.
#define QAYO_TEST_DETAIL_FAIL_ON_THROW(prefix, statement)                                          \
    do {                                                                                           \
        std::exception_ptr qayoTestError_;                                                         \
        try {                                                                                      \
            statement;                                                                             \
        } catch (...) {                                                                            \
            qayoTestError_ = std::current_exception();                                             \
        }                                                                                          \
        if (qayoTestError_)                                                                        \
            QFAIL(qPrintable(QStringLiteral(prefix) + QAyo::Test::describe(qayoTestError_)));      \
    } while (false)

//! Runs \a task (a QAyo::Task<>) with QAyo::Test::run() inside a QTest slot; an escaped exception
//! or a timeout fails the test with its message.
#define QAYO_TEST_RUN(task) QAYO_TEST_DETAIL_FAIL_ON_THROW("task threw: ", QAyo::Test::run(task))

//! Like QAYO_TEST_RUN, storing the task's value in \a variable (declared before).
#define QAYO_TEST_RUN_INTO(variable, task)                                                         \
    QAYO_TEST_DETAIL_FAIL_ON_THROW("task threw: ", variable = QAyo::Test::run(task))

//! Joins \a scope (a QAyo::Scope) with QAyo::Test::join() inside a QTest slot; an error rethrown
//! by the join, or a join that does not end within ten seconds, fails the test with its message.
#define QAYO_TEST_JOIN(scope) QAYO_TEST_DETAIL_FAIL_ON_THROW("join threw: ", QAyo::Test::join(scope))

//! In a QTest class's cleanup(): fails the test if a task it started is still alive (waits up to
//! two seconds for cancelled tasks to unwind first).
#define QAYO_VERIFY_NO_TASKS_LEFT()                                                                \
    do {                                                                                           \
        const int qayoLeft_ = QAyo::Test::waitForNoTasks();                                        \
        if (qayoLeft_ != 0)                                                                        \
            QFAIL(qPrintable(QStringLiteral("%1 QAyo task(s) outlived the test").arg(qayoLeft_))); \
    } while (false)
