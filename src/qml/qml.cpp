// SPDX-License-Identifier: MIT
#include <QAyo/qml.h>

#include "logging_p.h"

#include <QCoro/QCoroQml>

namespace QAyo::Qml::detail {

Q_LOGGING_CATEGORY(lcQml, "qayo.qml", QtInfoMsg)

void reportSpawnFailure(Scope *scope, const QString &message)
{
    if (QJSEngine *engine = scope ? qjsEngine(scope) : nullptr)
        engine->throwError(QJSValue::GenericError, message);
    else
        qCWarning(lcQml).noquote() << message;
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
