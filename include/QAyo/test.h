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
    if (!detail::spinUntil([&] { return handle.isFinished(); }, deadline)) {
        scope.cancel();
        detail::spinUntil([&] { return handle.isFinished(); }, std::chrono::milliseconds(1000));
        throw TimeoutError(QStringLiteral("QAyo::Test::run: the task did not finish within %1 ms")
                               .arg(deadline.count()));
    }
    // Let the scope settle (its signals and counters) before it goes out of scope.
    detail::spinUntil([&] { return !scope.isActive(); }, std::chrono::milliseconds(1000));
    static_cast<void>(scope.errors()); // observed: result() rethrows the task's error
    return handle.result();
}

//! Tasks created and not yet ended, on all threads. Zero between tests of a clean suite.
inline int unfinishedTasks() noexcept
{
    return QAyo::detail::unfinishedTaskCount();
}

//! Waits up to \a grace for every task to end; returns the number still unfinished.
QAYO_TEST_EXPORT int waitForNoTasks(std::chrono::milliseconds grace = std::chrono::seconds(2));

//! The message of an exception escaping a test's task, for a test failure.
QAYO_TEST_EXPORT QString describe(std::exception_ptr error);

} // namespace QAyo::Test

//! Runs \a task (a QAyo::Task<>) with QAyo::Test::run() inside a QTest slot; an escaped exception
//! or a timeout fails the test with its message.
#define QAYO_TEST_RUN(task)                                                                        \
    do {                                                                                           \
        std::exception_ptr qayoTestError_;                                                         \
        try {                                                                                      \
            QAyo::Test::run(task);                                                                 \
        } catch (...) {                                                                            \
            qayoTestError_ = std::current_exception();                                             \
        }                                                                                          \
        if (qayoTestError_)                                                                        \
            QFAIL(qPrintable(QStringLiteral("task threw: ") + QAyo::Test::describe(qayoTestError_))); \
    } while (false)

//! Like QAYO_TEST_RUN, storing the task's value in \a variable (declared before).
#define QAYO_TEST_RUN_INTO(variable, task)                                                         \
    do {                                                                                           \
        std::exception_ptr qayoTestError_;                                                         \
        try {                                                                                      \
            variable = QAyo::Test::run(task);                                                      \
        } catch (...) {                                                                            \
            qayoTestError_ = std::current_exception();                                             \
        }                                                                                          \
        if (qayoTestError_)                                                                        \
            QFAIL(qPrintable(QStringLiteral("task threw: ") + QAyo::Test::describe(qayoTestError_))); \
    } while (false)

//! In a QTest class's cleanup(): fails the test if a task it started is still alive (waits up to
//! two seconds for cancelled tasks to unwind first).
#define QAYO_VERIFY_NO_TASKS_LEFT()                                                                \
    do {                                                                                           \
        const int qayoLeft_ = QAyo::Test::waitForNoTasks();                                        \
        if (qayoLeft_ != 0)                                                                        \
            QFAIL(qPrintable(QStringLiteral("%1 QAyo task(s) outlived the test").arg(qayoLeft_))); \
    } while (false)
