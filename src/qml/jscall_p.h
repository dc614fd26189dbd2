// SPDX-License-Identifier: MIT
#pragma once

// Running JavaScript callbacks as tasks of a scope (Scope.asap/after/every/at in QML).
//
// A callback is called through a tiny JavaScript wrapper that catches what it throws, so a
// `throw "text"` is told apart from a `return "text"` (QJSValue::call() cannot). If the callback
// returns a thenable (a Promise), the task hooks a PromiseWatch onto it and waits, cancellation-
// aware, for its settled() signal: the scope tracks the Promise until it settles, a rejection is
// the task's error. A cancelled task stops waiting; the Promise settles into nothing later.

#include <QAyo/task.h>

#include <QJSEngine>
#include <QJSValue>
#include <QObject>
#include <QPointer>
#include <QVariant>

#include <functional>

namespace QAyo::Qml::detail {

//! The end of a JavaScript Promise as seen from C++: its reactions call resolve() or reject().
class PromiseWatch : public QObject
{
    Q_OBJECT
public:
    //! The Promise was fulfilled with \a value.
    Q_INVOKABLE void resolve(const QJSValue &value);
    //! The Promise was rejected; \a reason is the rejection described as text.
    Q_INVOKABLE void reject(const QString &reason);

    bool isSettled() const { return m_settled; }
    bool isRejected() const { return m_rejected; }
    QJSValue value() const { return m_value; }
    QString reason() const { return m_reason; }

Q_SIGNALS:
    //! resolve() or reject() was called (only the first call counts).
    void settled();

private:
    QJSValue m_value;
    QString m_reason;
    bool m_settled = false;
    bool m_rejected = false;
};

//! The task of one callback call: calls \a callback in \a engine and, if it returns a thenable,
//! waits until that settles. Yields the value (fulfilment value for a Promise) as a QVariant.
//! \a what names the call in error messages ("Scope.after callback"); \a onStart runs first
//! (if set). Throws QAyo::JavaScriptError for an exception, a rejection, or a gone engine.
Task<QVariant> runCallback(QPointer<QJSEngine> engine, QJSValue callback, QString what,
                           std::function<void()> onStart);

} // namespace QAyo::Qml::detail
