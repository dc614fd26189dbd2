// SPDX-License-Identifier: MIT
#pragma once

// Helpers for Qt Test suites (link QAyo::Test).

#include <QAyo/scope.h>
#include <QAyo/task.h>

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

} // namespace QAyo::Test
