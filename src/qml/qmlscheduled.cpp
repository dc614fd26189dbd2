// SPDX-License-Identifier: MIT
#include "qmlscheduled_p.h"

#include <QAyo/scope.h>

namespace QAyo::Qml::detail {

QmlScheduled::QmlScheduled(Scheduled handle, QAyo::Scope *scope)
    : m_handle(std::move(handle)), m_lastActive(m_handle.isActive())
{
    connect(scope, &QAyo::Scope::cancelledChanged, this, &QmlScheduled::refresh);
    connect(scope, &QAyo::Scope::finished, this, &QmlScheduled::refresh); // ends dontHoldExit() ones
    connect(scope, &QObject::destroyed, this, &QmlScheduled::refresh);
}

bool QmlScheduled::isActive() const
{
    return m_handle.isActive();
}

void QmlScheduled::unschedule()
{
    m_handle.unschedule();
    refresh();
}

void QmlScheduled::cancel()
{
    m_handle.cancel();
    refresh();
}

QmlScheduled *QmlScheduled::dontHoldExit()
{
    m_handle.dontHoldExit();
    return this;
}

void QmlScheduled::refresh()
{
    const bool active = m_handle.isActive();
    if (active == m_lastActive)
        return;
    m_lastActive = active;
    Q_EMIT activeChanged();
}

} // namespace QAyo::Qml::detail
