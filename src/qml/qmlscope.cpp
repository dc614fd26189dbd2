// SPDX-License-Identifier: MIT
#include "qmlscope_p.h"

#include "../core/nesting_p.h"
#include "jscall_p.h"
#include "logging_p.h"
#include "qmlscheduled_p.h"

#include <QAyo/qml.h>

#include <QQmlInfo>

#include <cmath>
#include <memory>

namespace QAyo::Qml::detail {

using std::chrono::milliseconds;

QmlScope::QmlScope(QObject *parent) : Scope(parent)
{
    connect(this, &Scope::taskFailed, this, &QmlScope::reportFailure);
}

QmlScope::~QmlScope() = default;

void QmlScope::componentComplete()
{
    // A Scope declared in a Scope, or made with createObject(scope): the parent is there now.
    QAyo::detail::nestInParentScope(this);
}

void QmlScope::throwToJs(QJSValue::ErrorType type, const QString &message)
{
    if (QJSEngine *engine = qjsEngine(this))
        engine->throwError(type, message);
    else
        qCWarning(lcQml).noquote() << message;
}

bool QmlScope::checkCallable(const char *operation, const QJSValue &callback)
{
    if (callback.isCallable())
        return true;
    throwToJs(QJSValue::TypeError, QStringLiteral("Scope.%1: the callback must be a function, got %2")
                                       .arg(QLatin1String(operation), callback.toString()));
    return false;
}

void QmlScope::reportFailure(const QString &message)
{
    // Reading the errors marks them observed: the scope then does not warn again when destroyed.
    (void)errorMessages();
    Q_EMIT errorsChanged();
    // Our own connection is one receiver; more means QML code handles onTaskFailed.
    if (receivers(SIGNAL(taskFailed(QString))) > 1)
        return;
    qmlWarning(this) << QStringLiteral("unhandled task failure in scope %1: %2")
                            .arg(name().isEmpty() ? QStringLiteral("(unnamed)") : name(), message);
}

void QmlScope::asap(const QJSValue &callback)
{
    if (!checkCallable("asap", callback))
        return;
    try {
        Scope::asap(&runCallback, QPointer<QJSEngine>(qjsEngine(this)), callback,
                    QStringLiteral("Scope.asap callback"), std::function<void()>());
    } catch (const std::exception &error) {
        throwToJs(QJSValue::GenericError, QString::fromUtf8(error.what()));
    }
}

template<typename Schedule>
QmlScheduled *QmlScope::schedule(const char *operation, const QJSValue &callback, Schedule &&makeSchedule)
{
    if (!checkCallable(operation, callback))
        return nullptr;
    // The returned object is told when a call starts (an after() or at() is then inactive).
    auto notifier = std::make_shared<QPointer<QmlScheduled>>();
    auto call = [engine = QPointer<QJSEngine>(qjsEngine(this)), callback, notifier,
                 what = QStringLiteral("Scope.%1 callback").arg(QLatin1String(operation))]() {
        return runCallback(engine, callback, what, [notifier] {
            if (QmlScheduled *scheduled = notifier->data())
                scheduled->refresh();
        });
    };
    try {
        auto *scheduled = new QmlScheduled(makeSchedule(std::move(call)), this);
        *notifier = scheduled;
        return scheduled;
    } catch (const InvalidArgument &error) {
        throwToJs(QJSValue::RangeError, error.message());
    } catch (const std::exception &error) {
        throwToJs(QJSValue::GenericError, QString::fromUtf8(error.what()));
    }
    return nullptr;
}

bool QmlScope::checkMilliseconds(const char *operation, const char *argument, double ms)
{
    // JavaScript hands over anything: "soon" and undefined arrive as NaN, 3e9 would wrap as an int.
    if (std::isfinite(ms) && std::abs(ms) <= maxMilliseconds)
        return true;
    throwToJs(QJSValue::RangeError, QStringLiteral("Scope.%1: %2 must be a number of milliseconds up to %3, got %4")
                                        .arg(QLatin1String(operation), QLatin1String(argument))
                                        .arg(qint64(maxMilliseconds))
                                        .arg(std::isnan(ms) ? QStringLiteral("NaN") : QString::number(ms)));
    return false;
}

QmlScheduled *QmlScope::after(double ms, const QJSValue &callback)
{
    if (!checkMilliseconds("after", "delay", ms))
        return nullptr;
    return schedule("after", callback, [&](auto call) { return Scope::after(milliseconds(qint64(ms)), std::move(call)); });
}

QmlScheduled *QmlScope::every(double ms, const QJSValue &callback)
{
    if (!checkMilliseconds("every", "interval", ms))
        return nullptr;
    return schedule("every", callback, [&](auto call) { return Scope::every(milliseconds(qint64(ms)), std::move(call)); });
}

QmlScheduled *QmlScope::at(const QDateTime &when, const QJSValue &callback)
{
    return schedule("at", callback, [&](auto call) { return Scope::at(when, std::move(call)); });
}

namespace {
QCoro::Task<QVariant> joinForQml(QmlScope *scope, QPointer<QJSEngine> engine)
{
    // A destroyed scope wakes the join with ScopeClosedError: the frame never touches it again.
    co_await scope->Scope::join();
    if (!engine)
        throw InvalidStateError(QStringLiteral("Scope.join: the QML engine is gone"));
    co_return QVariant();
}
} // namespace

QCoro::QmlTask QmlScope::join()
{
    return QCoro::QmlTask(joinForQml(this, QPointer<QJSEngine>(qjsEngine(this))));
}

int QmlScope::timeoutMs() const
{
    const auto value = timeout();
    return value ? int(value->count()) : 0;
}

void QmlScope::setTimeoutMs(int ms)
{
    if (ms < 0) {
        qmlWarning(this) << QStringLiteral("timeout must not be negative (0 = no timeout), got %1 ms; ignored").arg(ms);
        return;
    }
    const std::optional<milliseconds> value = ms == 0 ? std::nullopt : std::optional(milliseconds(ms));
    if (timeout() == value)
        return;
    try {
        setTimeout(value);
    } catch (const Error &error) {
        qmlWarning(this) << QStringLiteral("%1; the timeout stays %2 ms").arg(error.message()).arg(timeoutMs());
        return;
    }
    Q_EMIT timeoutChanged();
}

void QmlScope::setMaxConcurrencyFromQml(int limit)
{
    if (limit < 0) {
        qmlWarning(this) << QStringLiteral("maxConcurrency must be >= 0 (0 = unlimited), got %1; ignored").arg(limit);
        return;
    }
    setMaxConcurrency(limit);
}

void QmlScope::setTimeoutThrowsFromQml(bool throws)
{
    if (throws == timeoutThrows())
        return;
    setTimeoutThrows(throws);
    Q_EMIT timeoutThrowsChanged();
}

void QmlScope::setSuperviseFromQml(bool supervise)
{
    if (supervise == isSupervising())
        return;
    setSupervising(supervise);
    Q_EMIT superviseChanged();
}

} // namespace QAyo::Qml::detail
