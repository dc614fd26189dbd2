// SPDX-License-Identifier: MIT
#pragma once

// FirstSignalAwaiter: waits for the first of several signals of one object (the machinery of the
// QIODevice and QProcess waits in <QAyo/Waits> and <QAyo/Network>).
//
// It is QAyo::signal() for several signals at once, minus the arguments: it tells which signal
// came first (its index), or throws ObjectDestroyedError when the object died first. Like
// QAyo::signal() it is cancellation-aware (a cancel disconnects everything and wakes at once),
// delivers on the awaiting thread, and leaves no connection behind however it ends - woken,
// cancelled, or destroyed with its coroutine frame.

#include <QAyo/detail/wakeable.h>
#include <QAyo/errors.h>
#include <QAyo/signal.h>

#include <QObject>
#include <QPointer>

#include <array>
#include <memory>
#include <tuple>
#include <utility>

namespace QAyo::detail {

//! See the file comment.
template<typename Object, typename... Signals>
class FirstSignalAwaiter final : public WakeableAwaiter
{
    static_assert(sizeof...(Signals) > 0, "FirstSignalAwaiter: wait for at least one signal");

public:
    //! Returned by await_resume() when the object was destroyed (it throws instead).
    static constexpr int Destroyed = -1;

    //! \a function names the public wait in error messages ("readyRead", ...).
    FirstSignalAwaiter(const char *function, Object *object, Signals... signals)
        : m_function(function), m_object(object), m_signals(signals...)
    {
    }
    // Awaiters are moved only before they suspend (GCC moves some): nothing is connected yet.
    FirstSignalAwaiter(FirstSignalAwaiter &&other) noexcept
        : WakeableAwaiter(std::move(other)), m_function(other.m_function), m_object(other.m_object),
          m_signals(other.m_signals)
    {
    }
    ~FirstSignalAwaiter() { stop(); }

    bool await_ready()
    {
        if (!m_object)
            throw InvalidArgument(
                QStringLiteral("%1: the object is null").arg(QLatin1String(m_function)));
        return false;
    }

    void await_suspend(std::coroutine_handle<> h)
    {
        m_waiting = h;
        m_className = QLatin1String(m_object->metaObject()->className());
        m_state = std::make_shared<State>();
        m_state->awaiter = this;
        QObject *context = threadContextObject();
        std::weak_ptr<State> weak = m_state;
        connectAll(context, weak, std::index_sequence_for<Signals...>{});
        m_connections.back() =
            QObject::connect(m_object.data(), &QObject::destroyed, context, [weak] {
                if (auto state = weak.lock(); state && state->awaiter)
                    state->awaiter->fired(Destroyed);
            });
    }

    //! The index of the signal that came first.
    int await_resume()
    {
        if (m_fired == Destroyed)
            throw ObjectDestroyedError(QStringLiteral("%1: the %2 was destroyed while waiting")
                                           .arg(QLatin1String(m_function), m_className));
        return m_fired;
    }

    void cancelRequested() noexcept override
    {
        if (m_state) {
            stop();
            wake();
        }
    }

private:
    // The connections hold this small state, not the awaiter: a queued emission that arrives
    // after the awaiter is gone finds it detached and does nothing.
    struct State
    {
        FirstSignalAwaiter *awaiter = nullptr;
    };

    template<std::size_t... I>
    void connectAll(QObject *context, const std::weak_ptr<State> &weak, std::index_sequence<I...>)
    {
        const auto connectOne = [&](auto signal, int index) {
            return QObject::connect(m_object.data(), signal, context, [weak, index](auto &&...) {
                if (auto state = weak.lock(); state && state->awaiter)
                    state->awaiter->fired(index);
            });
        };
        ((m_connections[I] = connectOne(std::get<I>(m_signals), int(I))), ...);
    }

    void fired(int index)
    {
        m_fired = index;
        stop();
        wake();
    }

    //! Leaves nothing behind: every connection goes.
    void stop() noexcept
    {
        if (!m_state)
            return;
        m_state->awaiter = nullptr;
        m_state.reset();
        for (QMetaObject::Connection &connection : m_connections)
            QObject::disconnect(connection);
    }

    const char *m_function;
    QPointer<Object> m_object;
    std::tuple<Signals...> m_signals;
    QString m_className;
    std::shared_ptr<State> m_state;
    std::array<QMetaObject::Connection, sizeof...(Signals) + 1> m_connections;
    int m_fired = Destroyed - 1; // not fired (cancelled: the checkpoint throws before resume)
};

//! Deduces the awaiter's types: `co_await firstSignal("readyRead", device, &A::x, &A::y)`.
template<typename Object, typename... Signals>
FirstSignalAwaiter<Object, Signals...> firstSignal(const char *function, Object *object,
                                                   Signals... signals)
{
    return FirstSignalAwaiter<Object, Signals...>(function, object, signals...);
}

} // namespace QAyo::detail
