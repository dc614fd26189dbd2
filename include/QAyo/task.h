// SPDX-License-Identifier: MIT
#pragma once

// QAyo::Task<T>: a lazy, cancellable coroutine.
//
// The coroutine protocol, in prose, before the code:
//
// * Lazy start. initial_suspend() suspends: creating a Task runs nothing. The frame starts
//   when a scope starts it (Scope::asap and friends) or when it is co_awaited.
// * Two ways to run. A *spawned* task is the root frame of a TaskRecord: the promise's
//   m_record points at the record and m_root is set; when the frame finishes, the final
//   awaiter hands the result to the record, which destroys the frame and tells the scope.
//   An *awaited* task runs inline, as part of its awaiter: it inherits the awaiter's record
//   (so it shares its cancellation) and the final awaiter transfers control straight back to
//   the awaiting coroutine (symmetric transfer: no stack growth, no event-loop hop).
// * Checkpoints. Every co_await inside a Task goes through await_transform(), which wraps
//   the awaiter in a checkpoint (see detail/checkpoint.h): once the record is cancelled, the
//   await throws QAyo::Cancelled - before suspending, or on waking.
// * Awaited from elsewhere. A QCoro::Task or any coroutine can co_await a QAyo::Task; it then
//   has no record, runs without a scope, and is cancelled only by its own inner scopes.
// * Once. A task is awaited or spawned once: the promise's m_awaited flag is set by the first
//   co_await, and a second co_await (or a spawn after it) throws InvalidStateError instead of
//   resuming a frame that is suspended elsewhere or has finished (docs/decisions.md).

#include <QAyo/detail/checkpoint.h>
#include <QAyo/detail/record.h>
#include <QAyo/detail/taskmemory.h>
#include <QAyo/errors.h>

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace QAyo {

template<typename T = void>
class Task;

namespace detail {

template<typename T>
class TaskPromise;

//! Throws InvalidStateError "<operation>: the task was already awaited ..." (out of line).
[[noreturn]] QAYO_CORE_EXPORT void throwTaskAlreadyAwaited(const char *operation);
//! Throws InvalidArgument "task: cannot spawn an empty (moved-from) QAyo::Task" (out of line).
[[noreturn]] QAYO_CORE_EXPORT void throwEmptyTaskSpawned();

//! Recognises Task<T> and tells its value type.
template<typename T>
struct IsTask : std::false_type
{
};
template<typename T>
struct IsTask<QAyo::Task<T>> : std::true_type
{
    using ValueType = T;
};

//! Awaits a QAyo::Task inline: starts it by symmetric transfer, inherits the awaiter's record.
template<typename T>
class InlineTaskAwaiter
{
public:
    InlineTaskAwaiter(std::coroutine_handle<TaskPromise<T>> child, TaskRecord *record) noexcept
        : m_child(child), m_record(record)
    {
    }

    bool await_ready()
    {
        if (!m_child)
            throw InvalidArgument(QStringLiteral("task: cannot co_await an empty (moved-from) QAyo::Task"));
        auto &promise = m_child.promise();
        if (promise.m_awaited)
            throwTaskAlreadyAwaited("co_await");
        promise.m_awaited = true;
        if (m_record && m_record->isCancelled()) {
            m_cancelledBefore = true;
            return true;
        }
        return false; // a lazy task that was never awaited nor spawned has not run
    }

    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept
    {
        auto &promise = m_child.promise();
        promise.m_record = m_record;
        promise.m_continuation = awaiting;
        return m_child; // symmetric transfer: the child runs now, on this stack level
    }

    T await_resume()
    {
        if (m_cancelledBefore)
            m_record->throwCancelled();
        auto &promise = m_child.promise();
        if (promise.m_exception)
            std::rethrow_exception(promise.m_exception); // errors beat cancellation
        if (m_record && m_record->isCancelled())
            m_record->throwCancelled();
        if constexpr (!std::is_void_v<T>)
            return std::move(*promise.m_value);
    }

private:
    std::coroutine_handle<TaskPromise<T>> m_child;
    TaskRecord *m_record;
    bool m_cancelledBefore = false;
};

//! What QAyo::Task's promise has in common for every T.
class TaskPromiseBase
{
public:
    // Frames come from the per-thread task memory cache (see detail/taskmemory.h); the sized
    // delete gives the cache the frame's size back, so a block needs no header.
    static void *operator new(std::size_t size) { return allocateTaskMemory(size); }
    static void operator delete(void *frame, std::size_t size) noexcept { freeTaskMemory(frame, size); }

    std::suspend_always initial_suspend() const noexcept { return {}; }
    void unhandled_exception() noexcept { m_exception = std::current_exception(); }

    //! Every co_await in a QAyo::Task passes here; see detail/checkpoint.h.
    template<typename A>
    auto await_transform(A &&awaitable)
    {
        using Raw = std::remove_cvref_t<A>;
        if constexpr (IsTask<Raw>::value) {
            using U = typename IsTask<Raw>::ValueType;
            return InlineTaskAwaiter<U>(awaitable.m_handle, m_record);
        } else if constexpr (std::is_same_v<Raw, CurrentRecordRequest>) {
            return CurrentRecordAwaiter{m_record};
        } else if constexpr (requires { std::forward<A>(awaitable).qayoAwait(*this); }) {
            // QAyo's own awaitable requests (shield, cancellable, ...) build their awaiter.
            return std::forward<A>(awaitable).qayoAwait(*this);
        } else {
            using Aw = StoredAwaiter<decltype(toAwaiter(std::forward<A>(awaitable)))>;
            if constexpr (CancellationAware<Aw>) {
                AwareCheckpoint<Aw> checkpoint(toAwaiter(std::forward<A>(awaitable)), m_record);
                return checkpoint;
            } else {
                return ForeignCheckpoint<Aw>(toAwaiter(std::forward<A>(awaitable)), m_record);
            }
        }
    }

    //! Internal: awaits that always happen, cancelled or not (see ForeignCheckpoint).
    template<typename A>
    auto await_transform(Uninterruptible<A> &&wrapped)
    {
        using Aw = StoredAwaiter<decltype(toAwaiter(std::move(wrapped.awaitable)))>;
        return ForeignCheckpoint<Aw, false>(toAwaiter(std::move(wrapped.awaitable)), m_record);
    }

    std::coroutine_handle<> m_continuation;
    TaskRecord *m_record = nullptr;
    std::exception_ptr m_exception;
    bool m_root = false;
    bool m_awaited = false; // set by the first co_await: a task is awaited (or spawned) once
};

//! Final awaiter: back to the awaiting coroutine, or hand the outcome to the record.
template<typename T>
struct TaskFinalAwaiter
{
    bool await_ready() const noexcept { return false; }

    std::coroutine_handle<> await_suspend(std::coroutine_handle<TaskPromise<T>> h) noexcept
    {
        TaskPromise<T> &promise = h.promise();
        if (!promise.m_root)
            return promise.m_continuation ? promise.m_continuation : std::noop_coroutine();
        TaskRecord *record = promise.m_record;
        if constexpr (!std::is_void_v<T>) {
            if (!promise.m_exception)
                static_cast<TypedRecord<T> *>(record)->value = std::move(promise.m_value);
        }
        // Destroys the frame this awaiter lives in: nothing below may touch `this` or `promise`.
        record->rootFinished(std::move(promise.m_exception));
        return std::noop_coroutine();
    }

    void await_resume() const noexcept {}
};

template<typename T>
class TaskPromise final : public TaskPromiseBase
{
public:
    Task<T> get_return_object() noexcept;
    TaskFinalAwaiter<T> final_suspend() const noexcept { return {}; }

    template<typename U = T>
        requires std::is_constructible_v<T, U &&>
    void return_value(U &&value) noexcept(std::is_nothrow_constructible_v<T, U &&>)
    {
        m_value.emplace(std::forward<U>(value));
    }

    std::optional<T> m_value;
};

template<>
class TaskPromise<void> final : public TaskPromiseBase
{
public:
    Task<void> get_return_object() noexcept;
    TaskFinalAwaiter<void> final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
};

} // namespace detail

//! A lazy, cancellable coroutine returning T (see the file comment for the protocol).
/*!
 * Nothing runs until a scope starts the task or it is co_awaited. Every co_await inside it is a
 * cancellation checkpoint. Move-only; destroying a task that never started destroys its frame
 * without running it.
 *
 * \code
 * QAyo::Task<int> answer() { co_await QAyo::sleep(10ms); co_return 42; }
 * \endcode
 */
template<typename T>
class [[nodiscard]] Task
{
    static_assert(!std::is_reference_v<T>, "QAyo::Task<T&> is not supported: return a value");

public:
    //! The coroutine promise (C++ looks it up; not for direct use).
    using promise_type = detail::TaskPromise<T>;
    //! The type the task produces.
    using value_type = T;

    //! An empty task (not a coroutine); spawning or awaiting it throws InvalidArgument.
    Task() noexcept = default;
    //! Takes over the coroutine of \a other, which becomes empty.
    Task(Task &&other) noexcept : m_handle(std::exchange(other.m_handle, {})) {}
    //! Destroys the current coroutine (if any) and takes over the one of \a other.
    Task &operator=(Task &&other) noexcept
    {
        if (this != &other) {
            if (m_handle)
                m_handle.destroy();
            m_handle = std::exchange(other.m_handle, {});
        }
        return *this;
    }
    Task(const Task &) = delete;
    Task &operator=(const Task &) = delete;
    //! Destroys the coroutine frame; a task that never started never runs.
    ~Task()
    {
        if (m_handle)
            m_handle.destroy();
    }

    //! True if the task holds a coroutine (false when default-constructed or moved-from).
    bool isValid() const noexcept { return bool(m_handle); }

    //! Awaiting from QCoro::Task or any other coroutine: runs the task inline, without a scope.
    //! A task is awaited or spawned once: a second co_await throws InvalidStateError.
    auto operator co_await() && noexcept { return detail::InlineTaskAwaiter<T>(m_handle, nullptr); }
    //! Awaiting a Task lvalue: the same as awaiting it as an rvalue (runs inline, without a scope).
    auto operator co_await() & noexcept { return detail::InlineTaskAwaiter<T>(m_handle, nullptr); }

    //! Internal (scopes call it before adopting the frame): throws InvalidArgument if the task
    //! is empty, InvalidStateError naming \a operation if it was awaited already.
    void checkSpawnable(const char *operation) const
    {
        if (!m_handle)
            detail::throwEmptyTaskSpawned();
        if (m_handle.promise().m_awaited)
            detail::throwTaskAlreadyAwaited(operation);
    }

    //! Gives up ownership of the coroutine (internal: used by scopes to adopt the frame).
    std::coroutine_handle<promise_type> release() noexcept { return std::exchange(m_handle, {}); }

private:
    friend class detail::TaskPromise<T>;
    friend class detail::TaskPromiseBase;
    explicit Task(std::coroutine_handle<promise_type> h) noexcept : m_handle(h) {}

    std::coroutine_handle<promise_type> m_handle;
};

namespace detail {
template<typename T>
Task<T> TaskPromise<T>::get_return_object() noexcept
{
    return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}
inline Task<void> TaskPromise<void>::get_return_object() noexcept
{
    return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}
} // namespace detail

} // namespace QAyo
