// SPDX-License-Identifier: MIT
#pragma once

// The QAyo::Qml component (link QAyo::Qml): the C++ side of the QML module QAyo.
//
// QML code owns a scope (`Scope { id: search }`, see docs/qml.md); a C++ backend spawns its work
// into that scope and hands the result back as a QCoro::QmlTask, so QML can write
// `backend.search(text, search).then(r => ...)`. The work belongs to the scope: cancelling or
// destroying the scope cancels it, and the JavaScript callback is then never called.

#include <QAyo/errors.h>
#include <QAyo/scope.h>

#include <QCoro/QCoroQmlTask>
#include <QJSEngine>
#include <QPointer>
#include <QVariant>

#include <type_traits>
#include <utility>

//! Export macro of the QAyo::Qml library.
#if defined(QAYO_QML_LIBRARY)
#define QAYO_QML_EXPORT Q_DECL_EXPORT
#else
#define QAYO_QML_EXPORT Q_DECL_IMPORT
#endif

namespace QAyo {

//! A JavaScript callback of a QML Scope threw, or the Promise it returned was rejected; the
//! message carries the JavaScript error ("Error: boom (main.qml:12)").
class QAYO_QML_EXPORT JavaScriptError : public Error
{
public:
    using Error::Error;
};

namespace Qml {

namespace detail {

//! Reports a spawn that could not happen as a JavaScript exception in the scope's engine (the
//! calling QML expression throws it), or as a warning when there is no engine; returns true.
//! Returns false, reporting nothing, when the scope has an engine but no JavaScript is running
//! (a call from plain C++): the caller then rethrows the C++ error.
[[nodiscard]] QAYO_QML_EXPORT bool reportSpawnFailure(Scope *scope, const QString &message);

//! The QmlTask's coroutine: awaits \a handle and converts the value. A cancelled or failed task
//! ends it with an exception, so QmlTask::then() never calls its function; so does an engine
//! that was destroyed while the task ran (the QML side is gone).
template<typename T>
QCoro::Task<QVariant> resultForQml(Handle<T> handle, QPointer<QJSEngine> engine)
{
    const bool hadEngine = !engine.isNull();
    if constexpr (std::is_void_v<T>) {
        co_await handle;
        if (hadEngine && !engine)
            throw InvalidStateError(QStringLiteral("QAyo::Qml::spawn: the QML engine is gone"));
        co_return QVariant();
    } else {
        T value = co_await handle;
        if (hadEngine && !engine)
            throw InvalidStateError(QStringLiteral("QAyo::Qml::spawn: the QML engine is gone"));
        co_return QVariant::fromValue(std::move(value));
    }
}

//! The T of a Handle<T>.
template<typename H>
struct HandleValue;
template<typename T>
struct HandleValue<Handle<T>>
{
    using type = T;
};

//! A QmlTask that never calls its function (returned when spawning failed).
QAYO_QML_EXPORT QCoro::QmlTask failedTask();

} // namespace detail

//! Spawns \a task into \a scope (usually a QML Scope passed in by QML) and returns its result to
//! QML as a thenable: `backend.search(text, scope).then(r => ...)`.
/*!
 * \code
 * Q_INVOKABLE QCoro::QmlTask Backend::search(const QString &text, QAyo::Scope *scope)
 * {
 *     return QAyo::Qml::spawn(scope, lookUp(text)); // lookUp returns QAyo::Task<QStringList>
 * }
 * \endcode
 *
 * The task is an ordinary task of the scope: it starts on a later loop turn, counts against
 * maxConcurrency, is cancelled by the scope's cancel(), timeout or destruction, and its error
 * is the scope's (taskFailed, errors). The function given to `then` is called with the value
 * only when the task succeeded; after a cancel or an error it is never called. T must be a
 * type QVariant can hold and QML can read (QString, QStringList, QVariantMap, ...) or void.
 *
 * Must not be called with a null scope, or a scope that has finished or is being destroyed:
 * then nothing is spawned and the error goes where the call came from. Called from JavaScript
 * (a Q_INVOKABLE), the calling QML expression gets a JavaScript Error naming the problem and the
 * returned task never calls its function; nothing is thrown in C++. Called from plain C++ (no
 * JavaScript of the scope's engine running), it throws the C++ error (ScopeClosedError) and
 * leaves the engine untouched. A null scope, or a scope without an engine, gives a warning in
 * the qayo.qml category and a task that never calls its function. Call it on the scope's thread.
 */
template<typename T>
QCoro::QmlTask spawn(Scope *scope, Task<T> &&task)
{
    if (!scope) {
        static_cast<void>(detail::reportSpawnFailure(nullptr, QStringLiteral("QAyo::Qml::spawn: the scope is null")));
        return detail::failedTask();
    }
    try {
        Handle<T> handle = scope->asap(std::move(task));
        return QCoro::QmlTask(detail::resultForQml<T>(std::move(handle), QPointer<QJSEngine>(qjsEngine(scope))));
    } catch (const Error &error) {
        if (!detail::reportSpawnFailure(scope, error.message()))
            throw; // called from C++, not from JavaScript
        return detail::failedTask();
    }
}

//! spawn() of a callable: f(args...) is called lazily when the scope starts the task (see
//! Scope::asap(F, Args...)); f returns a QAyo::Task, a QCoro::Task or a value.
template<typename F, typename... Args>
    requires std::invocable<std::decay_t<F> &, std::decay_t<Args> &...>
QCoro::QmlTask spawn(Scope *scope, F &&f, Args &&...args)
{
    if (!scope) {
        static_cast<void>(detail::reportSpawnFailure(nullptr, QStringLiteral("QAyo::Qml::spawn: the scope is null")));
        return detail::failedTask();
    }
    try {
        auto handle = scope->asap(std::forward<F>(f), std::forward<Args>(args)...);
        using T = typename detail::HandleValue<decltype(handle)>::type;
        return QCoro::QmlTask(detail::resultForQml<T>(std::move(handle), QPointer<QJSEngine>(qjsEngine(scope))));
    } catch (const Error &error) {
        if (!detail::reportSpawnFailure(scope, error.message()))
            throw; // called from C++, not from JavaScript
        return detail::failedTask();
    }
}

} // namespace Qml
} // namespace QAyo
