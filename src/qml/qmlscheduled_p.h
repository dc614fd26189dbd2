// SPDX-License-Identifier: MIT
#pragma once

#include <QAyo/scheduled.h>

#include <QObject>
#include <QPointer>
#include <QtQml/qqmlregistration.h>

namespace QAyo {
class Scope;
}

namespace QAyo::Qml::detail {

//! What Scope.after(), every() and at() return in QML: the switch of a scheduled callback.
/*!
 * Owned by the JavaScript engine (collected when unreferenced; the callback stays scheduled).
 */
class QmlScheduled : public QObject
{
    Q_OBJECT
    QML_NAMED_ELEMENT(Scheduled)
    QML_UNCREATABLE("Scheduled is returned by Scope.after(), Scope.every() and Scope.at()")
    //! True while more calls are planned.
    Q_PROPERTY(bool active READ isActive NOTIFY activeChanged)

public:
    //! Wraps \a handle of a schedule of \a scope.
    QmlScheduled(Scheduled handle, QAyo::Scope *scope);

    bool isActive() const;

    //! No further calls; a call already running finishes.
    Q_INVOKABLE void unschedule();
    //! unschedule(), and cancels a call that is running (a Promise it waits for is dropped).
    Q_INVOKABLE void cancel();
    //! A join of the scope no longer waits for this callback. Returns this object.
    Q_INVOKABLE QAyo::Qml::detail::QmlScheduled *dontHoldExit();

    //! Re-reads the state and notifies activeChanged if it changed (called on every event that
    //! may end the schedule: a call started, the scope cancelled, finished or destroyed).
    void refresh();

Q_SIGNALS:
    void activeChanged();

private:
    Scheduled m_handle;
    bool m_lastActive = true;
};

} // namespace QAyo::Qml::detail
