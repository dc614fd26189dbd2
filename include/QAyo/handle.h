// SPDX-License-Identifier: MIT
#pragma once

#include <QAyo/detail/record.h>
#include <QAyo/detail/wakeable.h>

#include <QString>

#include <memory>
#include <type_traits>
#include <utility>

namespace QAyo {

template<typename T>
class Handle;

namespace detail {

//! Throws what a finished record holds instead of a value (error, cancellation, not finished).
QAYO_CORE_EXPORT void throwUnlessSucceeded(const TaskRecord *record, const char *operation);

//! A wait for a record that lives on another thread (src/threads/remotewait.cpp).
class RemoteWait;

//! Starts waiting for \a record from the calling thread. Returns null if the record lives on
//! the calling thread (then \a waiter must be added to the record's own waiter list). Otherwise
//! the wait is registered on the record's thread and, once the record has ended,
//! waiter->recordCompleted() is called on the calling thread, unless detachRemoteWait() came
//! first. The record's scope must be alive during the call.
QAYO_CORE_EXPORT std::shared_ptr<RemoteWait> startRemoteWait(TaskRecord *record,
                                                             CompletionWaiter *waiter);
//! Makes sure the waiter of \a wait is never called again; on the thread that started it.
QAYO_CORE_EXPORT void detachRemoteWait(RemoteWait *wait) noexcept;

//! co_await handle: waits for the task to finish; wakes at once if the awaiter is cancelled.
/*!
 * On the task's own thread the awaiter joins the record's waiter list. From another thread it
 * waits through a RemoteWait, whose completion comes back to this thread as a queued call: the
 * coroutine always resumes on the thread it suspended on.
 */
template<typename T>
class HandleAwaiter final : public WakeableAwaiter, public CompletionWaiter
{
public:
    explicit HandleAwaiter(TypedRecord<T> *record) noexcept : m_record(record) { m_record->ref(); }
    HandleAwaiter(HandleAwaiter &&other) noexcept
        : WakeableAwaiter(std::move(other)), m_record(std::exchange(other.m_record, nullptr))
    {
    }
    ~HandleAwaiter()
    {
        if (!m_record)
            return;
        if (m_remote)
            detachRemoteWait(m_remote.get()); // the frame dies: its completion must find no one
        else if (isWaiting)
            m_record->removeWaiter(this);
        m_record->deref();
    }

    bool await_ready() const noexcept
    {
        return m_record->isDone();
    }
    void await_suspend(std::coroutine_handle<> h)
    {
        m_waiting = h;
        m_remote = startRemoteWait(m_record, this);
        if (!m_remote)
            m_record->addWaiter(this);
    }
    T await_resume()
    {
        throwUnlessSucceeded(m_record, "co_await Handle");
        if constexpr (!std::is_void_v<T>) {
            if constexpr (std::is_copy_constructible_v<T>) {
                return *m_record->value;
            } else {
                if (Q_UNLIKELY(m_record->valueTaken.exchange(true, std::memory_order_acq_rel))) {
                    throw InvalidStateError(
                        QStringLiteral("co_await Handle: the result of task '%1' (a move-only type) was taken by an "
                                       "earlier co_await; await such a handle once, or pass the value on from there")
                            .arg(m_record->displayName()));
                }
                return std::move(*m_record->value);
            }
        }
    }

    void recordCompleted() noexcept override
    {
        m_remote.reset();
        wake();
    }
    void cancelRequested() noexcept override
    {
        if (m_remote) {
            detachRemoteWait(m_remote.get());
            m_remote.reset();
            wake();
        } else if (isWaiting) {
            m_record->removeWaiter(this);
            wake();
        }
    }

private:
    TypedRecord<T> *m_record;
    std::shared_ptr<RemoteWait> m_remote; // set while waiting for a record of another thread
};

} // namespace detail

//! What spawning returns: the task's result, state and cancel switch.
/*!
 * A value type with shared state (like QFuture): copies refer to the same task, and a handle
 * stays valid after the task and its scope are gone. Awaiting it is cancellation-aware.
 *
 * Thread rules: copying, dropping, isFinished() and the other state getters, result(), cancel()
 * and co_await work on any thread; the awaiting coroutine resumes on its own thread. cancel() from another thread than the task's
 * takes effect on the task's thread soon after, also when the task is still on its way there.
 * Awaiting from another thread needs a handle obtained on the task's scope thread (or passed from
 * there) and a scope that is alive when the await starts (docs/threads.md). name() and setName()
 * belong on the scope's thread (setName() throws InvalidStateError elsewhere).
 *
 * A copyable result is copied to every co_await. A move-only result (std::unique_ptr<T>, ...) is
 * moved out by the first co_await that resumes; every later one, on any thread, throws
 * InvalidStateError instead of yielding a moved-from value.
 */
template<typename T>
class Handle
{
public:
    //! An invalid handle (refers to no task).
    Handle() noexcept = default;
    //! Shares the task of \a other.
    Handle(const Handle &other) noexcept : m_record(other.m_record)
    {
        if (m_record)
            m_record->ref();
    }
    //! Takes over the task of \a other.
    Handle(Handle &&other) noexcept : m_record(std::exchange(other.m_record, nullptr)) {}
    //! Shares the task of \a other.
    Handle &operator=(Handle other) noexcept
    {
        std::swap(m_record, other.m_record);
        return *this;
    }
    //! Drops this reference; the task goes on (a handle does not own the task's lifetime).
    ~Handle()
    {
        if (m_record)
            m_record->deref();
    }

    //! True if the handle refers to a task.
    bool isValid() const noexcept { return m_record != nullptr; }
    //! True once the task has ended (succeeded, failed or cancelled).
    bool isFinished() const noexcept
    {
        return m_record && m_record->isDone();
    }
    //! True if the task ended by cancellation (or was dropped before it started).
    bool isCancelled() const noexcept { return isFinished() && m_record->outcome == detail::TaskRecord::Outcome::Cancelled; }
    //! True if the task ended with an error.
    bool isFailed() const noexcept { return isFinished() && m_record->outcome == detail::TaskRecord::Outcome::Failed; }

    //! The result of a finished task. Throws InvalidStateError if it has not finished, the
    //! task's own exception if it failed, TaskCancelledError if it was cancelled.
    T result() const
    {
        detail::throwUnlessSucceeded(m_record, "Handle::result()");
        if constexpr (!std::is_void_v<T>)
            return *m_record->value;
    }

    //! Cancels this task only (its scope and siblings go on). Harmless if it has finished. Works
    //! from any thread: from another thread than the task's it returns at once and the cancel
    //! takes effect on the task's thread soon after (a task still on its way there never starts).
    void cancel() const
    {
        if (m_record)
            m_record->requestCancel();
    }

    //! The task's name (set with setName(), else "task#<n>").
    QString name() const { return m_record ? m_record->displayName() : QString(); }
    //! Names the task for logs, warnings and tree dumps. Throws InvalidStateError if called on
    //! another thread than the task's scope's (or before a spawn made from another thread got
    //! there): the name is read there.
    void setName(const QString &name) const
    {
        if (!m_record)
            return;
        if (!m_record->isOnHomeThread())
            throw InvalidStateError(QStringLiteral("Handle::setName(): call it on the thread of the task's scope"));
        m_record->name = name;
    }

    //! Waits for the task; returns its value or rethrows its error (see result()).
    detail::HandleAwaiter<T> operator co_await() const
    {
        if (!m_record)
            throw InvalidStateError(QStringLiteral("Handle: cannot co_await an invalid handle"));
        return detail::HandleAwaiter<T>(m_record);
    }

    //! Internal: adopts a record reference.
    explicit Handle(detail::TypedRecord<T> *record) noexcept : m_record(record) {}

private:
    detail::TypedRecord<T> *m_record = nullptr;
};

} // namespace QAyo
