// SPDX-License-Identifier: MIT
#include <QAyo/qml.h>

#include "logging_p.h"

#include <QCoro/QCoroQml>

namespace QAyo::Qml::detail {

Q_LOGGING_CATEGORY(lcQml, "qayo.qml", QtInfoMsg)

namespace {
//! True while JavaScript of \a engine is running (a Q_INVOKABLE called from QML): the engine
//! then turns a thrown error into an exception of the calling expression. Outside, throwError()
//! would stay pending and surface in the next, unrelated evaluation. The public API has no
//! such query; the stack trace of a tiny evaluation shows the frames of the calling JavaScript
//! (only the evaluation's own frame when none runs). It costs microseconds, on failures only.
bool isJavaScriptRunning(QJSEngine *engine)
{
    QStringList trace;
    engine->evaluate(QStringLiteral("throw 0"), QString(), 1, &trace);
    return trace.size() > 1;
}
} // namespace

bool reportSpawnFailure(Scope *scope, const QString &message)
{
    QJSEngine *engine = scope ? qjsEngine(scope) : nullptr;
    if (!engine) {
        qCWarning(lcQml).noquote() << message;
        return true;
    }
    if (!isJavaScriptRunning(engine))
        return false; // called from C++: the caller rethrows the C++ error
    engine->throwError(QJSValue::GenericError, message);
    return true;
}

QCoro::QmlTask failedTask()
{
    return QCoro::QmlTask([]() -> QCoro::Task<QVariant> {
        throw InvalidStateError(QStringLiteral("QAyo::Qml::spawn: nothing was spawned"));
        co_return QVariant();
    }());
}

} // namespace QAyo::Qml::detail

// Backends return QCoro::QmlTask from their Q_INVOKABLEs: its metatype must be known before the
// first call, in every program that links QAyo::Qml.
static void registerQmlTask()
{
    QCoro::Qml::registerTypes();
}
Q_CONSTRUCTOR_FUNCTION(registerQmlTask)
