// SPDX-License-Identifier: MIT
#pragma once

#include <QAyo/scope.h>

#include <QCoro/QCoroQmlTask>

#include <QDateTime>
#include <QJSValue>
#include <QQmlParserStatus>
#include <QtQml/qqmlregistration.h>

namespace QAyo::Qml::detail {

class QmlScheduled;

//! `Scope` in QML: a QAyo::Scope whose options are properties and whose work can be JavaScript.
/*!
 * It is the C++ scope itself (a subclass), so a backend's Q_INVOKABLE taking a QAyo::Scope *
 * receives it as it is. Nothing here lets a C++ exception reach the QML engine: a bad call
 * throws a JavaScript error to the calling expression, a bad property value is a warning and
 * is ignored. A Scope whose QML parent is a Scope is nested in it once it is complete (QML
 * sets the parent after construction). See docs/qml.md for the contract.
 */
class QmlScope : public QAyo::Scope, public QQmlParserStatus
{
    Q_OBJECT
    Q_INTERFACES(QQmlParserStatus)
    QML_NAMED_ELEMENT(Scope)
    //! Tasks allowed to run at once (0 = unlimited). Negative: a warning, the value is ignored.
    Q_PROPERTY(int maxConcurrency READ maxConcurrency WRITE setMaxConcurrencyFromQml NOTIFY maxConcurrencyChanged)
    //! Milliseconds from the scope's start (its first task) until everything is cancelled;
    //! 0 = no timeout. Fixed once the scope started (changing it then is a warning).
    Q_PROPERTY(int timeout READ timeoutMs WRITE setTimeoutMs NOTIFY timeoutChanged)
    //! With a timeout, make a join fail with TimeoutError (join().then(f) then does not call f).
    Q_PROPERTY(bool timeoutThrows READ timeoutThrows WRITE setTimeoutThrowsFromQml NOTIFY timeoutThrowsChanged)
    //! Supervisor mode: a failing task does not cancel the others.
    Q_PROPERTY(bool supervise READ isSupervising WRITE setSuperviseFromQml NOTIFY superviseChanged)
    //! The messages of the errors of failed tasks, first one first.
    Q_PROPERTY(QStringList errors READ errorMessages NOTIFY errorsChanged)

public:
    //! A scope with default options; QML sets the properties afterwards.
    explicit QmlScope(QObject *parent = nullptr);
    ~QmlScope() override;

    //! Runs \a callback as a task of the scope, on a later turn of the event loop. If it returns
    //! a Promise (any thenable), the task lasts until the Promise settles; a rejection, like an
    //! exception thrown by the callback, is the task's error.
    Q_INVOKABLE void asap(const QJSValue &callback);
    //! Calls \a callback once, \a ms from now (as a task; a returned Promise is tracked).
    //! \a ms is a double so that NaN (a string, undefined) and values beyond the int range are
    //! a RangeError instead of 0 or a wrapped int; fractions are truncated.
    Q_INVOKABLE QAyo::Qml::detail::QmlScheduled *after(double ms, const QJSValue &callback);
    //! Calls \a callback every \a ms milliseconds, drift-free, never overlapping itself.
    Q_INVOKABLE QAyo::Qml::detail::QmlScheduled *every(double ms, const QJSValue &callback);
    //! Calls \a callback once at the wall-clock time \a when (a JavaScript Date).
    Q_INVOKABLE QAyo::Qml::detail::QmlScheduled *at(const QDateTime &when, const QJSValue &callback);
    //! Closes the scope once every task has ended (then finished() is emitted, and spawning
    //! is an error); the returned thenable calls its function then, unless the scope failed
    //! (or timed out with timeoutThrows) or was destroyed first.
    Q_INVOKABLE QCoro::QmlTask join();

    //! Part of QQmlParserStatus; nothing to do before the properties are set.
    void classBegin() override {}
    //! Nests the scope in its QObject parent if that is a Scope (set by QML after construction).
    void componentComplete() override;

    int timeoutMs() const;
    void setTimeoutMs(int ms);
    void setMaxConcurrencyFromQml(int limit);
    void setTimeoutThrowsFromQml(bool throws);
    void setSuperviseFromQml(bool supervise);

Q_SIGNALS:
    void timeoutChanged();
    void timeoutThrowsChanged();
    void superviseChanged();
    void errorsChanged();

private:
    //! Throws \a message as a JavaScript error to the calling expression (a TypeError for a bad
    //! argument type, a RangeError for a bad value, an Error otherwise).
    void throwToJs(QJSValue::ErrorType type, const QString &message);
    //! Largest delay or interval after() and every() take: INT_MAX ms (24.8 days), the range
    //! of the QTimer behind the real clock (a longer one would never fire).
    static constexpr double maxMilliseconds = 2147483647.0;
    //! \a ms is finite and at most maxMilliseconds either way; throws a RangeError naming
    //! \a argument of \a operation to JavaScript and returns false otherwise.
    bool checkMilliseconds(const char *operation, const char *argument, double ms);
    //! \a callback is callable; throws a TypeError to JavaScript and returns false otherwise.
    bool checkCallable(const char *operation, const QJSValue &callback);
    //! A task failed: QML code that handles taskFailed has seen it; otherwise it is a warning,
    //! as an uncaught exception in a signal handler would be.
    void reportFailure(const QString &message);
    template<typename Schedule>
    QmlScheduled *schedule(const char *operation, const QJSValue &callback, Schedule &&schedule);
};

} // namespace QAyo::Qml::detail
