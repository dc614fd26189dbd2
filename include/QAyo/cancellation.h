// SPDX-License-Identifier: MIT
#pragma once

// The cancellation toolkit: shield, cancellable, withTimeout, withTimeoutOr.
// checkpoint() lives in detail/wakeable.h (it is part of the core), QAyo::signal in signal.h.

#include <QAyo/detail/callable.h>
#include <QAyo/detail/spawn.h>
#include <QAyo/detail/wakeable.h>
#include <QAyo/scope.h>
#include <QAyo/task.h>

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>

namespace QAyo {

namespace detail {

//! Logs on qayo.cancel that a cancellable()'s onCancel threw \a error (with its message); the
//! error is not rethrown: cancellation goes on.
QAYO_CORE_EXPORT void warnOnCancelThrew(const std::exception_ptr &error) noexcept;

//! QAyo::shield(a): the awaitable, to be awaited with cancellation held back.
template<typename A>
struct Shielded
{
    A awaitable;

    template<typename Promise>
    auto qayoAwait(Promise &promise) &&;
};

//! QAyo::cancellable(a, onCancel): the awaitable and what to do when the task is cancelled.
template<typename A, typename F>
struct CancellableRequest
{
    A awaitable;
    F onCancel;

    template<typename Promise>
    auto qayoAwait(Promise &promise) &&;
};

//! Awaits an inner awaiter with the record's shield raised (see QAyo::shield).
template<typename Inner>
class ShieldAwaiter
{
public:
    ShieldAwaiter(Inner &&inner, TaskRecord *record) : m_inner(std::move(inner)), m_record(record) {}
    ShieldAwaiter(ShieldAwaiter &&other) noexcept
        : m_inner(std::move(other.m_inner)), m_record(other.m_record)
    {
    }
    ~ShieldAwaiter() { lower(); } // the frame was destroyed while shielded

    bool await_ready()
    {
        if (m_record) {
            ++m_record->shieldDepth;
            m_raised = true;
        }
        return m_inner.await_ready();
    }
    template<typename Promise>
    auto await_suspend(std::coroutine_handle<Promise> h)
    {
        return m_inner.await_suspend(h);
    }
    decltype(auto) await_resume()
    {
        struct Lower
        {
            ShieldAwaiter *self;
            ~Lower() { self->lower(); }
        };
        if constexpr (std::is_void_v<decltype(m_inner.await_resume())>) {
            {
                Lower lower{this};
                m_inner.await_resume();
            }
            if (m_record && m_record->isCancelled())
                throw Cancelled{}; // delivered right after the shielded work (not a repeat)
        } else {
            auto value = [&] {
                Lower lower{this};
                return m_inner.await_resume();
            }();
            if (m_record && m_record->isCancelled())
                throw Cancelled{};
            return value;
        }
    }

private:
    void lower() noexcept
    {
        if (m_raised) {
            m_raised = false;
            --m_record->shieldDepth;
        }
    }
    Inner m_inner;
    TaskRecord *m_record;
    bool m_raised = false;
};

//! Makes a foreign awaiter cancellation-aware: on cancel, runs onCancel on the next ready-queue
//! turn (it may resume the task synchronously, e.g. QNetworkReply::abort emits finished), then
//! delivers Cancelled when the awaiter completes.
template<typename Aw, typename F>
class CancellableAwaiter final : public WakeableAwaiter
{
public:
    template<typename I>
    CancellableAwaiter(I &&inner, F &&onCancel) : m_inner(std::forward<I>(inner)), m_onCancel(std::move(onCancel))
    {
    }
    CancellableAwaiter(CancellableAwaiter &&other) noexcept
        : WakeableAwaiter(std::move(other)), m_inner(std::forward<Aw>(other.m_inner)),
          m_onCancel(std::move(other.m_onCancel))
    {
    }

    bool await_ready() { return m_inner.await_ready(); }
    template<typename Promise>
    auto await_suspend(std::coroutine_handle<Promise> h)
    {
        m_waiting = {}; // the ready node runs onCancel, not a resume
        return m_inner.await_suspend(std::coroutine_handle<>(h));
    }
    decltype(auto) await_resume()
    {
        ReadyNode::unlink(); // completed before onCancel ran: nothing left to do
        return m_inner.await_resume();
    }
    void cancelRequested() noexcept override
    {
        if (!m_cancelRequested) {
            m_cancelRequested = true;
            run = &CancellableAwaiter::runOnCancel;
            wake();
        }
    }
    //! Suspended on a foreign awaiter: a destroyed scope must orphan, not destroy, the frame.
    static constexpr bool isForeign = true;

private:
    static void runOnCancel(ReadyNode *node) noexcept
    {
        auto *self = static_cast<CancellableAwaiter *>(node);
        try {
            std::invoke(self->m_onCancel);
        } catch (...) {
            warnOnCancelThrew(std::current_exception());
        }
    }
    Aw m_inner;
    F m_onCancel;
    bool m_cancelRequested = false;
};

template<typename A>
template<typename Promise>
auto Shielded<A>::qayoAwait(Promise &promise) &&
{
    using Inner = decltype(promise.await_transform(std::forward<A>(awaitable)));
    return ShieldAwaiter<Inner>(promise.await_transform(std::forward<A>(awaitable)), promise.m_record);
}

template<typename A, typename F>
template<typename Promise>
auto CancellableRequest<A, F>::qayoAwait(Promise &promise) &&
{
    using Aw = StoredAwaiter<decltype(toAwaiter(std::forward<A>(awaitable)))>;
    return AwareCheckpoint<CancellableAwaiter<Aw, F>>(
        CancellableAwaiter<Aw, F>(toAwaiter(std::forward<A>(awaitable)), std::move(onCancel)),
        promise.m_record);
}

//! Runs \a awaitable in a nested block scope with a timeout (the machinery of withTimeout).
template<typename T, typename A>
Task<std::optional<std::conditional_t<std::is_void_v<T>, std::monostate, T>>>
awaitWithin(std::chrono::milliseconds timeout, A awaitable, bool throws)
{
    using Stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
    std::optional<Stored> result;
    auto body = [&result, &awaitable](Scope &) -> Task<> {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(awaitable);
            result.emplace();
        } else {
            result.emplace(co_await std::move(awaitable));
        }
    };
    co_await QAyo::scope({.timeout = timeout, .timeoutThrows = throws,
                          .name = QStringLiteral("withTimeout")},
                         std::move(body));
    co_return result;
}

} // namespace detail

//! Awaits \a awaitable to its end even if the task is cancelled meanwhile; the cancellation is
//! delivered right after. For cleanup that must not be interrupted:
/*!
 * \code
 * bool cancelled = false;
 * try { co_await work(); } catch (const QAyo::Cancelled &) { cancelled = true; }
 * if (cancelled) {
 *     co_await QAyo::shield(saveState()); // runs to its end
 *     throw QAyo::Cancelled{};            // then let the cancellation go on
 * }
 * \endcode
 * (C++ does not allow co_await inside a catch block.) Destroying the scope still destroys a
 * shielded task: a shield holds back cancellation, not destruction.
 */
template<typename A>
detail::Shielded<A> shield(A &&awaitable)
{
    return {std::forward<A>(awaitable)};
}

//! Makes any awaitable cancellation-aware: when the task is cancelled while suspended on it,
//! \a onCancel runs (on the next loop turn; e.g. `reply->abort()`), and Cancelled is delivered
//! once the awaitable completes. onCancel must make the awaitable complete. Throws
//! InvalidArgument if \a onCancel is a null pointer or an empty std::function. An exception
//! thrown by onCancel is logged (category qayo.cancel) and otherwise ignored.
template<typename A, typename F>
    requires std::invocable<std::decay_t<F> &>
detail::CancellableRequest<A, std::decay_t<F>> cancellable(A &&awaitable, F &&onCancel)
{
    detail::checkCallable(onCancel, "cancellable", "onCancel callback");
    return {std::forward<A>(awaitable), std::forward<F>(onCancel)};
}

//! Awaits \a awaitable for at most \a timeout; returns its value or throws TimeoutError.
/*!
 * The awaitable runs in a nested scope with the timeout: a QAyo::Task or a QAyo wait is
 * interrupted at once; a foreign awaitable only when it completes (wrap it in cancellable()).
 * Throws InvalidArgument for a negative timeout.
 */
template<typename A>
auto withTimeout(std::chrono::milliseconds timeout, A awaitable) -> Task<detail::AwaitResult<A>>
{
    using T = detail::AwaitResult<A>;
    auto result = co_await detail::awaitWithin<T>(timeout, std::move(awaitable), true);
    if constexpr (!std::is_void_v<T>)
        co_return std::move(*result);
}

//! Awaits \a awaitable for at most \a timeout; an empty optional when the time ran out (for a
//! void awaitable: an optional<std::monostate>). Kotlin's withTimeoutOrNull.
template<typename A>
auto withTimeoutOr(std::chrono::milliseconds timeout, A awaitable)
    -> Task<std::optional<std::conditional_t<std::is_void_v<detail::AwaitResult<A>>, std::monostate, detail::AwaitResult<A>>>>
{
    co_return co_await detail::awaitWithin<detail::AwaitResult<A>>(timeout, std::move(awaitable), false);
}

} // namespace QAyo
