// SPDX-License-Identifier: MIT
#pragma once

// The start handshake (Trio's nursery.start): co_await scope.start(f, args...) resumes once f
// calls started(value) on the QAyo::Started<T> it receives. Scope::start() is in scope.h; this
// header holds the handle and the awaiter. Non-template machinery: src/core/started.cpp.

#include <QAyo/detail/spawn.h>
#include <QAyo/detail/wakeable.h>
#include <QAyo/errors.h>
#include <QAyo/task.h>

#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace QAyo {

template<typename T = void>
class Started;

namespace detail {

class StartWaiter;

//! The state a start() call and its task share (one per start; the scope's thread only).
//! Waits for the task's record too: a task that ends without running its body to the end
//! (dropped before it started, or its frame destroyed with its scope) still resolves the start.
class QAYO_CORE_EXPORT StartState : public CompletionWaiter
{
public:
    StartState();
    virtual ~StartState();
    StartState(const StartState &) = delete;
    StartState &operator=(const StartState &) = delete;

    //! Throws InvalidStateError if started() was called before, after the start ended without
    //! it (failed, cancelled, finished), or from another thread.
    void checkCanStart() const;
    //! The task called started(): resumes the caller.
    void markStarted() noexcept;
    //! The task's body ended (with \a failure or normally). Returns true if \a failure must
    //! still propagate from the task (it came after started(), nobody waits, or it is a
    //! cancellation); otherwise the caller of start() received it.
    bool bodyEnded(const std::exception_ptr &failure) noexcept;
    //! The caller stopped waiting (cancelled, destroyed, or never awaited): cancels the task if it
    //! has not called started() yet.
    void abandon() noexcept;
    //! The task's record settled: if the start is still unresolved, the task was dropped or
    //! destroyed before its body ended, and start() throws TaskCancelledError.
    void recordCompleted() noexcept override;

    bool isResolved() const noexcept { return m_phase == Phase::Started || m_phase == Phase::Failed; }
    bool isStarted() const noexcept { return m_phase == Phase::Started; }
    //! Rethrows what start() must throw instead of returning (error before started(), none).
    void throwIfFailed() const;
    //! Rethrows the task's own error before started(), if that is how the start ended (not a
    //! cancellation or a missing started()): a cancelled caller still gets it.
    void rethrowTaskError() const;

    //! The task (to cancel it while it has not started); set by Scope::start().
    void setTask(TaskRecord *record) noexcept;
    //! Throws InvalidStateError if the task could never start while \a caller (the task about
    //! to await the start) waits: it waits for a slot - of its scope's maxConcurrency or of a
    //! limiter - that only \a caller, or a task \a caller is nested in, holds (docs/limits.md).
    void checkCanProgress(TaskRecord *caller) const;
    void setWaiter(StartWaiter *waiter) noexcept { m_waiter = waiter; }

private:
    enum class Phase : quint8 { Starting, Started, Failed, Abandoned };
    void dropTask() noexcept;
    void resolve(Phase phase) noexcept;

    Phase m_phase = Phase::Starting;
    bool m_taskError = false; // m_error is the task's own exception
    std::exception_ptr m_error;
    StartWaiter *m_waiter = nullptr;
    TaskRecord *m_task = nullptr; // referenced until resolved or abandoned
    ReadyNode *m_cancelLetter;    // what abandon() posts to cancel the task (made in advance)
    Qt::HANDLE m_thread;
};

//! The value half of the state.
template<typename T>
class StartValueState final : public StartState
{
public:
    std::optional<T> value;
};
template<>
class StartValueState<void> final : public StartState
{
};

//! Non-template half of the awaiter: what the state wakes.
class QAYO_CORE_EXPORT StartWaiter : public WakeableAwaiter
{
public:
    StartWaiter() noexcept = default;
    StartWaiter(StartWaiter &&other) noexcept = default;
    //! The state was resolved: resume the caller on a later turn.
    void resolved() noexcept { wake(); }

protected:
    ~StartWaiter() = default;
};

//! What Scope::start() returns: `co_await` it for the value passed to started().
template<typename T>
class [[nodiscard]] StartAwaiter final : public StartWaiter
{
public:
    explicit StartAwaiter(std::shared_ptr<StartValueState<T>> state) noexcept : m_state(std::move(state)) {}
    StartAwaiter(StartAwaiter &&other) noexcept : StartWaiter(std::move(other)), m_state(std::move(other.m_state)) {}
    StartAwaiter &operator=(StartAwaiter &&) = delete;
    //! Dropped before the task called started(): the task is cancelled.
    ~StartAwaiter()
    {
        if (m_state) {
            m_state->setWaiter(nullptr);
            m_state->abandon();
        }
    }

    bool await_ready() const
    {
        if (!m_state)
            throw InvalidStateError(QStringLiteral("start: this start operation was awaited already"));
        return m_state->isResolved();
    }
    void await_suspend(std::coroutine_handle<> h) noexcept
    {
        m_waiting = h;
        m_state->setWaiter(this);
    }
    //! co_await inside a QAyo::Task: first refuses a start that could never make progress
    //! (StartState::checkCanProgress); the dropped operation then cancels its task.
    template<typename Promise>
    auto qayoAwait(Promise &promise) &&
    {
        if (m_state)
            m_state->checkCanProgress(promise.m_record);
        return AwareCheckpoint<StartAwaiter>(std::move(*this), promise.m_record);
    }
    //! \copydoc qayoAwait()
    template<typename Promise>
    auto qayoAwait(Promise &promise) &
    {
        if (m_state)
            m_state->checkCanProgress(promise.m_record);
        return AwareCheckpoint<StartAwaiter &>(*this, promise.m_record);
    }
    T await_resume()
    {
        auto state = std::move(m_state); // consumed: the destructor no longer abandons
        state->setWaiter(nullptr);
        state->throwIfFailed();
        if constexpr (!std::is_void_v<T>)
            return std::move(*state->value);
    }
    //! The caller was cancelled after the start failed: errors beat cancellation, so the
    //! task's error is rethrown instead of Cancelled (it is nobody else's error).
    void rethrowFailure() const
    {
        if (m_state)
            m_state->rethrowTaskError();
    }
    //! Wakes the caller (its checkpoint throws Cancelled); the destructor then abandons the
    //! start, which cancels the task if it has not called started() yet.
    void cancelRequested() noexcept override
    {
        if (m_state) {
            m_state->setWaiter(nullptr);
            wake();
        }
    }

private:
    std::shared_ptr<StartValueState<T>> m_state;
};

//! Runs the start() callable; hands an outcome before started() to the caller.
template<typename Call>
Task<> runUntilStarted(std::shared_ptr<StartState> state, Call call)
{
    using R = std::invoke_result_t<Call &>;
    std::exception_ptr failure;
    try {
        if constexpr (IsTask<R>::value)
            co_await call();
        else
            static_cast<void>(call());
    } catch (...) {
        failure = std::current_exception();
    }
    if (state->bodyEnded(failure))
        std::rethrow_exception(failure);
}

//! Tells T from f's first parameter (Started<T> or Started<T> &); void if it cannot be seen
//! (a generic lambda: pass T to start<T>() explicitly).
template<typename P>
struct StartedParameter
{
    using type = void;
};
template<typename T>
struct StartedParameter<Started<T>>
{
    using type = T;
};
template<typename F>
struct FirstParameter
{
    using type = void;
};
template<typename R, typename P, typename... Ps>
struct FirstParameter<R (*)(P, Ps...)>
{
    using type = P;
};
template<typename R, typename C, typename P, typename... Ps>
struct FirstParameter<R (C::*)(P, Ps...)>
{
    using type = P;
};
template<typename R, typename C, typename P, typename... Ps>
struct FirstParameter<R (C::*)(P, Ps...) const>
{
    using type = P;
};
template<typename F>
    requires requires { &F::operator(); }
struct FirstParameter<F>
{
    using type = typename FirstParameter<decltype(&F::operator())>::type;
};
template<typename F>
using StartedValueOf = typename StartedParameter<std::remove_cvref_t<typename FirstParameter<std::decay_t<F>>::type>>::type;

//! Marker: start() deduces T from the callable.
struct DeduceStartedType
{
};

} // namespace detail

//! What a task run by Scope::start() receives: call started(value) once it is ready.
/*!
 * \code
 * QAyo::Task<> serve(QAyo::Started<quint16> started) {
 *     QTcpServer server;
 *     server.listen(QHostAddress::LocalHost);
 *     started.started(server.serverPort());   // the caller of start() resumes with the port
 *     ...                                     // keeps serving inside the scope
 * }
 * quint16 port = co_await scope.start(serve);
 * \endcode
 *
 * A small handle to shared state: take it by value (recommended) or by reference; copies refer
 * to the same handshake. Use it on the scope's thread. started() a second time, or after the
 * start ended without it, throws InvalidStateError.
 */
template<typename T>
class Started
{
public:
    //! Reports the task ready with \a value; the caller of start() resumes with it. Throws
    //! InvalidStateError if started() was called before or the start has ended without it.
    template<typename U = T>
        requires(!std::is_void_v<T> && std::is_constructible_v<T, U &&>)
    void started(U &&value) const
    {
        m_state->checkCanStart();
        m_state->value.emplace(std::forward<U>(value));
        m_state->markStarted();
    }
    //! Reports the task ready (Started<void>). Throws InvalidStateError if called before or
    //! the start has ended without it.
    void started() const
        requires std::is_void_v<T>
    {
        m_state->checkCanStart();
        m_state->markStarted();
    }
    //! True once started() was called.
    bool isStarted() const noexcept { return m_state->isStarted(); }

    //! Internal: made by Scope::start().
    explicit Started(std::shared_ptr<detail::StartValueState<T>> state) noexcept : m_state(std::move(state)) {}

private:
    std::shared_ptr<detail::StartValueState<T>> m_state;
};

} // namespace QAyo
