// SPDX-License-Identifier: MIT
#pragma once

// QAyo::signal(obj, &Class::signal): a cancellation-aware wait for one emission of a signal.

#include <QAyo/clock.h>
#include <QAyo/detail/wakeable.h>
#include <QAyo/errors.h>

#include <QObject>
#include <QPointer>

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>

namespace QAyo {

//! The object a QAyo::signal() wait was watching was destroyed before it emitted.
class QAYO_CORE_EXPORT ObjectDestroyedError : public Error
{
public:
    using Error::Error;
};

namespace detail {

//! The calling thread's QAyo context object: the receiver (and so the delivery thread) of the
//! connections QAyo's waits make.
QAYO_CORE_EXPORT QObject *threadContextObject();

//! Throws InvalidArgument "<operation>: timeout must not be negative, got N ms" for a negative
//! \a timeout (the same rule as withTimeout and a scope's timeout).
QAYO_CORE_EXPORT void checkTimeoutNotNegative(const char *operation, std::chrono::milliseconds timeout);

//! True for the hidden QPrivateSignal tag that Qt appends to private signals (QTimer::timeout,
//! QProcess::started, ...). The type is private to its class, so it is recognised by name.
template<typename T>
constexpr bool isPrivateSignalTag()
{
    constexpr std::string_view name = __PRETTY_FUNCTION__;
    return name.find("QPrivateSignal") != std::string_view::npos;
}

//! A signal's argument list without the QPrivateSignal tag.
template<typename Done, typename Rest>
struct StripPrivateTag;
template<typename... Done>
struct StripPrivateTag<QtPrivate::List<Done...>, QtPrivate::List<>>
{
    using type = QtPrivate::List<Done...>;
};
template<typename... Done, typename Last>
struct StripPrivateTag<QtPrivate::List<Done...>, QtPrivate::List<Last>>
{
    using type = std::conditional_t<isPrivateSignalTag<std::decay_t<Last>>(), QtPrivate::List<Done...>,
                                    QtPrivate::List<Done..., Last>>;
};
template<typename... Done, typename Next, typename Second, typename... Rest>
struct StripPrivateTag<QtPrivate::List<Done...>, QtPrivate::List<Next, Second, Rest...>>
{
    using type = typename StripPrivateTag<QtPrivate::List<Done..., Next>, QtPrivate::List<Second, Rest...>>::type;
};

//! The public arguments of \a Signal.
template<typename Signal>
using SignalArguments = typename StripPrivateTag<QtPrivate::List<>, typename QtPrivate::FunctionPointer<Signal>::Arguments>::type;

template<typename List>
struct SignalValue;
template<>
struct SignalValue<QtPrivate::List<>>
{
    using type = void;
};
template<typename Arg>
struct SignalValue<QtPrivate::List<Arg>>
{
    using type = std::decay_t<Arg>;
};
template<typename A1, typename A2, typename... Rest>
struct SignalValue<QtPrivate::List<A1, A2, Rest...>>
{
    using type = std::tuple<std::decay_t<A1>, std::decay_t<A2>, std::decay_t<Rest>...>;
};

//! The value of a signal wait: void, the single argument, or a tuple of the arguments.
template<typename Signal>
using SignalResult = typename SignalValue<SignalArguments<Signal>>::type;

//! The slot of a signal wait: takes exactly the public arguments (Qt passes a prefix of the
//! signal's arguments to a functor, so the private tag is left out).
template<typename State, typename List>
struct SignalReceiver;
template<typename State, typename... Args>
struct SignalReceiver<State, QtPrivate::List<Args...>>
{
    std::weak_ptr<State> state;
    void operator()(Args... args) const
    {
        if (auto alive = state.lock(); alive && alive->awaiter)
            alive->awaiter->deliver(std::forward<Args>(args)...);
    }
};

//! See QAyo::signal(). The connections hold a small shared state, not the awaiter: a queued
//! emission that arrives after the awaiter is gone finds the state detached and does nothing.
template<typename Object, typename Signal>
class SignalAwaiter final : public WakeableAwaiter, public DeadlineEntry
{
public:
    using Value = SignalResult<Signal>;
    using Stored = std::conditional_t<std::is_void_v<Value>, std::monostate, Value>;

    SignalAwaiter(Object *object, Signal signal, std::optional<Clock::Duration> timeout)
        : DeadlineEntry(&SignalAwaiter::timedOut), m_object(object), m_signal(signal), m_timeout(timeout)
    {
    }
    SignalAwaiter(SignalAwaiter &&other) noexcept
        : WakeableAwaiter(std::move(other)), DeadlineEntry(std::move(other)), m_object(other.m_object),
          m_signal(other.m_signal), m_timeout(other.m_timeout)
    {
    }
    ~SignalAwaiter() { stop(); }

    bool await_ready()
    {
        if (!m_object)
            throw InvalidArgument(QStringLiteral("signal: the object is null"));
        return false;
    }

    void await_suspend(std::coroutine_handle<> h)
    {
        m_waiting = h;
        m_state = std::make_shared<State>();
        m_state->awaiter = this;
        QObject *context = threadContextObject();
        std::weak_ptr<State> weak = m_state;
        m_emitted = QObject::connect(m_object.data(), m_signal, context,
                                     SignalReceiver<State, SignalArguments<Signal>>{weak});
        m_destroyed = QObject::connect(m_object.data(), &QObject::destroyed, context, [weak] {
            if (auto state = weak.lock(); state && state->awaiter)
                state->awaiter->objectDestroyed();
        });
        if (m_timeout)
            DeadlineEntry::arm(Clock::current()->now() + *m_timeout);
    }

    //! The arguments of the emission; std::nullopt when the timeout passed first.
    std::optional<Stored> await_resume()
    {
        if (m_objectDestroyed)
            throw ObjectDestroyedError(QStringLiteral("signal: the object was destroyed before it emitted"));
        return std::move(m_value);
    }

    void cancelRequested() noexcept override
    {
        if (m_state) {
            stop();
            wake();
        }
    }

    //! The connection's shared state (internal).
    struct State
    {
        SignalAwaiter *awaiter = nullptr;
    };

    //! Stores the emitted arguments and wakes the task (internal; called by SignalReceiver).
    template<typename... Args>
    void deliver(Args &&...args)
    {
        if constexpr (std::is_void_v<Value>)
            m_value.emplace();
        else if constexpr (sizeof...(Args) == 1)
            m_value.emplace(std::forward<Args>(args)...);
        else
            m_value.emplace(std::forward<Args>(args)...);
        stop();
        wake();
    }
private:
    void objectDestroyed()
    {
        m_objectDestroyed = true;
        stop();
        wake();
    }
    static void timedOut(DeadlineEntry *entry) noexcept
    {
        auto *self = static_cast<SignalAwaiter *>(entry);
        self->stop();
        self->wake();
    }
    //! Leaves nothing behind: no connection, no deadline.
    void stop() noexcept
    {
        if (!m_state)
            return;
        m_state->awaiter = nullptr;
        m_state.reset();
        QObject::disconnect(m_emitted);
        QObject::disconnect(m_destroyed);
        DeadlineEntry::cancel();
    }

    QPointer<Object> m_object;
    Signal m_signal;
    std::optional<Clock::Duration> m_timeout;
    std::shared_ptr<State> m_state;
    QMetaObject::Connection m_emitted;
    QMetaObject::Connection m_destroyed;
    std::optional<Stored> m_value;
    bool m_objectDestroyed = false;
};

//! Unwraps the optional of a signal wait without timeout (the value is always there).
template<typename Object, typename Signal>
class SignalOnceAwaiter final : public CancelHook
{
public:
    SignalOnceAwaiter(Object *object, Signal signal) : m_inner(object, signal, std::nullopt) {}
    bool await_ready() { return m_inner.await_ready(); }
    void await_suspend(std::coroutine_handle<> h) { m_inner.await_suspend(h); }
    SignalResult<Signal> await_resume()
    {
        auto value = m_inner.await_resume();
        if constexpr (!std::is_void_v<SignalResult<Signal>>)
            return std::move(*value);
    }
    void cancelRequested() noexcept override { m_inner.cancelRequested(); }

private:
    SignalAwaiter<Object, Signal> m_inner;
};

} // namespace detail

//! Waits for the next emission of \a signal by \a object; returns its arguments (nothing, the
//! single argument, or a std::tuple). Cancellation-aware: a cancel disconnects and wakes at once.
/*!
 * Delivered on the awaiting thread (queued if \a object lives on another thread). Throws
 * ObjectDestroyedError if \a object is destroyed first, InvalidArgument if it is null.
 * \code
 * auto [exitCode, status] = co_await QAyo::signal(process, &QProcess::finished);
 * \endcode
 */
template<typename Object, typename Signal>
    requires std::derived_from<Object, QObject>
detail::SignalOnceAwaiter<Object, Signal> signal(Object *object, Signal signal)
{
    return {object, signal};
}

//! As signal(object, signal), but gives up after \a timeout: returns an empty optional then
//! (for a signal without arguments, an optional<std::monostate>). A negative \a timeout throws
//! InvalidArgument from this call (as withTimeout does).
template<typename Object, typename Signal>
    requires std::derived_from<Object, QObject>
detail::SignalAwaiter<Object, Signal> signal(Object *object, Signal signal, std::chrono::milliseconds timeout)
{
    detail::checkTimeoutNotNegative("signal", timeout);
    return detail::SignalAwaiter<Object, Signal>(object, signal, timeout);
}

} // namespace QAyo
