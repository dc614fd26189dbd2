// SPDX-License-Identifier: MIT
#pragma once

#include <QAyo/detail/record.h>
#include <QAyo/detail/wakeable.h>

#include <QString>

#include <type_traits>
#include <utility>

namespace QAyo {

template<typename T>
class Handle;

namespace detail {

//! Throws what a finished record holds instead of a value (error, cancellation, not finished).
QAYO_CORE_EXPORT void throwUnlessSucceeded(const TaskRecord *record, const char *operation);

//! co_await handle: waits for the task to finish; wakes at once if the awaiter is cancelled.
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
        if (isWaiting)
            m_record->removeWaiter(this);
        m_record->deref();
    }

    bool await_ready() const noexcept
    {
        return m_record->state.load(std::memory_order_acquire) == TaskRecord::State::Done;
    }
    void await_suspend(std::coroutine_handle<> h) noexcept
    {
        m_waiting = h;
        m_record->addWaiter(this);
    }
    T await_resume()
    {
        throwUnlessSucceeded(m_record, "co_await Handle");
        if constexpr (!std::is_void_v<T>) {
            if constexpr (std::is_copy_constructible_v<T>)
                return *m_record->value;
            else
                return std::move(*m_record->value);
        }
    }

    void recordCompleted() noexcept override { wake(); }
    void cancelRequested() noexcept override
    {
        if (isWaiting) {
            m_record->removeWaiter(this);
            wake();
        }
    }

private:
    TypedRecord<T> *m_record;
};

} // namespace detail

//! What spawning returns: the task's result, state and cancel switch.
/*!
 * A value type with shared state (like QFuture): copies refer to the same task, and a handle
 * stays valid after the task and its scope are gone. Awaiting it is cancellation-aware.
 * Use it on the scope's thread.
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
        return m_record && m_record->state.load(std::memory_order_acquire) == detail::TaskRecord::State::Done;
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

    //! Cancels this task only (its scope and siblings go on). Harmless if it has finished.
    void cancel() const
    {
        if (m_record)
            m_record->requestCancel();
    }

    //! The task's name (set with setName(), else "task#<n>").
    QString name() const { return m_record ? m_record->displayName() : QString(); }
    //! Names the task for logs, warnings and tree dumps.
    void setName(const QString &name) const
    {
        if (m_record)
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
