// SPDX-License-Identifier: MIT
#pragma once

// Checkpoints: how every `co_await` inside a QAyo::Task observes cancellation.
//
// The promise of QAyo::Task routes each awaited expression through await_transform(), which
// wraps the real awaiter in one of two checkpoint awaiters:
//
// * AwareCheckpoint - for QAyo's own awaiters (they derive from CancelHook). While suspended,
//   the awaiter is published as the record's `hook`; a cancel calls hook->cancelRequested(),
//   which wakes the task at once through the ready queue. On resume the wrapper throws
//   Cancelled instead of returning the value.
// * ForeignCheckpoint - for everything else (QCoro's awaiters, QCoro::Task, user awaitables).
//   They cannot be interrupted; the wrapper marks the record `suspendedForeign` (a scope that
//   is destroyed then orphans the task instead of destroying a frame someone else will
//   resume) and delivers Cancelled when the awaitable completes.
//
// Both check before suspending too: cancellation is level-triggered, so an await that starts
// after the cancel throws at once without suspending (Trio's rule). Errors beat cancellation:
// if the awaited operation itself failed, its exception is rethrown rather than replaced by
// Cancelled, so no error is ever lost behind a cancel.

#include <QAyo/detail/record.h>
#include <QAyo/errors.h>

#include <qcoro/qcorotask.h>

#include <concepts>
#include <coroutine>
#include <type_traits>
#include <utility>

namespace QAyo::detail {

//! True for awaiters QAyo can wake early on cancellation.
template<typename A>
concept CancellationAware = std::derived_from<std::remove_cvref_t<A>, CancelHook>;

//! Awaiters that want the record of the awaiting task (e.g. a join checks ancestry);
//! AwareCheckpoint calls qayoBind(record) before the await starts.
template<typename A>
concept RecordBindable = requires(A &a, TaskRecord *record) { a.qayoBind(record); };

template<typename A>
concept HasMemberCoAwait = requires(A &&a) { std::forward<A>(a).operator co_await(); };
template<typename A>
concept HasFreeCoAwait = requires(A &&a) { operator co_await(std::forward<A>(a)); };
template<typename A>
concept HasQCoroAwaiter = requires { typename QCoro::detail::awaiter_type<std::remove_cvref_t<A>>::type; };

//! Turns an awaitable into its awaiter, as the compiler would (plus QCoro's Qt-type awaiters).
template<typename A>
decltype(auto) toAwaiter(A &&awaitable)
{
    if constexpr (HasQCoroAwaiter<A>)
        return typename QCoro::detail::awaiter_type<std::remove_cvref_t<A>>::type{awaitable};
    else if constexpr (HasMemberCoAwait<A>)
        return std::forward<A>(awaitable).operator co_await();
    else if constexpr (HasFreeCoAwait<A>)
        return operator co_await(std::forward<A>(awaitable));
    else
        return std::forward<A>(awaitable);
}

//! How a checkpoint stores the awaiter: lvalues by reference, temporaries by value.
template<typename A>
using StoredAwaiter = std::conditional_t<std::is_lvalue_reference_v<A>, A, std::remove_cvref_t<A>>;

//! See the file comment.
template<typename Aw>
class AwareCheckpoint
{
public:
    template<typename A>
    AwareCheckpoint(A &&awaiter, TaskRecord *record)
        : m_awaiter(std::forward<A>(awaiter)), m_record(record)
    {
        // Tells the awaiter who awaits (a join checks ancestry, an acquire the slots held); it
        // may throw (a wait that could never end), which the co_await then throws.
        if constexpr (RecordBindable<std::remove_reference_t<Aw>>) {
            if (record)
                m_awaiter.qayoBind(record);
        }
    }

    bool await_ready()
    {
        bool waitThroughCancel = false;
        if constexpr (requires { m_awaiter.waitsThroughCancel(); })
            waitThroughCancel = m_awaiter.waitsThroughCancel();
        if (m_record && m_record->isCancelled() && !waitThroughCancel) {
            m_cancelledBefore = true;
            return true;
        }
        return m_awaiter.await_ready();
    }

    template<typename Promise>
    auto await_suspend(std::coroutine_handle<Promise> h)
    {
        TaskRecord *record = m_record;
        if (record) {
            record->hook = &m_awaiter;
            if constexpr (requires { Aw::isForeign; })
                record->suspendedForeign = true; // someone else holds the handle too
        }
        // QAyo's own awaiters run no user code while suspending; after this call only locals
        // may be touched (a wrapped foreign awaiter may have resumed the coroutine already).
        // Published before the call (a cancel during it must find the hook), withdrawn if it
        // throws: then the coroutine did not suspend and the awaiter is about to die.
        try {
            return m_awaiter.await_suspend(h);
        } catch (...) {
            if (record) {
                record->hook = nullptr;
                record->suspendedForeign = false;
            }
            throw;
        }
    }

    decltype(auto) await_resume()
    {
        if (m_cancelledBefore)
            m_record->throwCancelled();
        if (m_record) {
            m_record->hook = nullptr;
            m_record->suspendedForeign = false;
            if (m_record->isCancelled()) {
                if constexpr (requires { m_awaiter.rethrowFailure(); })
                    m_awaiter.rethrowFailure(); // errors beat cancellation
                m_record->throwCancelled();
            }
        }
        return m_awaiter.await_resume();
    }

private:
    Aw m_awaiter;
    TaskRecord *m_record;
    bool m_cancelledBefore = false;
};

//! See the file comment. With CheckBefore false the await always happens (for work that is
//! already running and must be waited for, such as an eager QCoro::Task handed to a scope).
template<typename Aw, bool CheckBefore = true>
class ForeignCheckpoint
{
public:
    template<typename A>
    ForeignCheckpoint(A &&awaiter, TaskRecord *record)
        : m_awaiter(std::forward<A>(awaiter)), m_record(record)
    {
    }

    bool await_ready()
    {
        if (CheckBefore && m_record && m_record->isCancelled()) {
            m_cancelledBefore = true;
            return true;
        }
        return m_awaiter.await_ready();
    }

    template<typename Promise>
    auto await_suspend(std::coroutine_handle<Promise> h)
    {
        TaskRecord *record = m_record;
        if (record)
            record->suspendedForeign = true;
        // Foreign awaiters take std::coroutine_handle<> (QCoro's do). After this call the
        // coroutine may already run elsewhere: touch only locals. If it throws, the coroutine
        // did not suspend: the flag goes back.
        using Result = decltype(m_awaiter.await_suspend(std::coroutine_handle<>(h)));
        try {
            if constexpr (std::is_same_v<Result, bool>) {
                const bool suspended = m_awaiter.await_suspend(std::coroutine_handle<>(h));
                if (!suspended && record)
                    record->suspendedForeign = false;
                return suspended;
            } else {
                return m_awaiter.await_suspend(std::coroutine_handle<>(h));
            }
        } catch (...) {
            if (record)
                record->suspendedForeign = false;
            throw;
        }
    }

    decltype(auto) await_resume()
    {
        if (m_cancelledBefore)
            m_record->throwCancelled();
        if (m_record) {
            m_record->suspendedForeign = false;
            if (m_record->isCancelled()) {
                // Let the awaitable rethrow its own error first (errors beat cancellation);
                // a value it produced is dropped.
                static_cast<void>(m_awaiter.await_resume());
                m_record->throwCancelled();
            }
        }
        return m_awaiter.await_resume();
    }

private:
    Aw m_awaiter;
    TaskRecord *m_record;
    bool m_cancelledBefore = false;
};

//! Asks the promise for the record of the running task (internal).
struct CurrentRecordRequest
{
};

//! Awaiter that answers CurrentRecordRequest without suspending.
struct CurrentRecordAwaiter
{
    TaskRecord *record;
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    TaskRecord *await_resume() const noexcept { return record; }
};

//! Marks an awaitable that must be awaited even if the task is cancelled already (internal).
template<typename A>
struct Uninterruptible
{
    A awaitable;
};

} // namespace QAyo::detail
