// SPDX-License-Identifier: MIT
#pragma once

// The machinery of QAyo::future() (see waits.h): a canceller that lives in the coroutine frame and
// the coroutine that waits through a QFutureWatcher.
//
// Why the canceller is a parameter of the coroutine: parameters are moved into the frame when
// the Task is created, and destroyed with the frame - also when the Task is dropped unawaited, or
// awaited by a task that is cancelled already (the body then never runs). A local in the body
// would miss those cases. The body adds a scope guard so the future is cancelled as soon as the
// wait ends by an exception, not only when the awaiting expression releases the frame.

#include <QAyo/errors.h>
#include <QAyo/signal.h>
#include <QAyo/task.h>

#include <QFuture>
#include <QFutureWatcher>
#include <QScopeGuard>

#include <type_traits>
#include <utility>

namespace QAyo::detail {

//! Cancels the future when destroyed, unless disarmed (see the file comment).
template<typename T>
class FutureCanceller
{
public:
    explicit FutureCanceller(QFuture<T> future) : m_future(std::move(future)) {}
    FutureCanceller(FutureCanceller &&other) noexcept
        : m_future(other.m_future), m_armed(std::exchange(other.m_armed, false))
    {
    }
    FutureCanceller &operator=(FutureCanceller &&) = delete;
    ~FutureCanceller() { cancel(); }

    const QFuture<T> &future() const noexcept { return m_future; }
    //! The wait has its outcome: nothing to cancel any more.
    void disarm() noexcept { m_armed = false; }
    //! Cancels the future once (if it has not finished).
    void cancel() noexcept
    {
        if (std::exchange(m_armed, false) && !m_future.isFinished())
            m_future.cancel();
    }

private:
    QFuture<T> m_future;
    bool m_armed = true;
};

//! The body of QAyo::future().
template<typename T>
Task<T> awaitFuture(FutureCanceller<T> canceller)
{
    QFuture<T> future = canceller.future();
    const auto cancelOnExit = qScopeGuard([&canceller] { canceller.cancel(); });
    if (!future.isFinished()) {
        // The watcher lives on the awaiting thread, so `finished` is delivered there.
        QFutureWatcher<T> watcher;
        watcher.setFuture(future);
        co_await QAyo::signal(&watcher, &QFutureWatcherBase::finished);
    }
    canceller.disarm();
    future.waitForFinished(); // finished: does not block; rethrows the future's exception
    if (future.isCanceled())
        throw TaskCancelledError(QStringLiteral("future: the QFuture was cancelled"));
    if constexpr (!std::is_void_v<T>) {
        if (future.resultCount() == 0)
            throw InvalidStateError(
                QStringLiteral("future: the QFuture finished without a result"));
        if constexpr (std::is_copy_constructible_v<T>)
            co_return future.result();
        else
            co_return future.takeResult();
    }
}

} // namespace QAyo::detail
