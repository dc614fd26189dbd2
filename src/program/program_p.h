// SPDX-License-Identifier: MIT
#pragma once

#include <QLoggingCategory>
#include <QObject>

namespace QAyo::detail {
Q_DECLARE_LOGGING_CATEGORY(lcProgram) // qayo.program: runner life cycle, signals, diagnostics

//! Relays "the root scope may have gone idle" to the runner's driver. The driver waits on this
//! object's signal rather than on the Scope's: a QAyo::signal() wait disconnects when it ends,
//! and Scope::disconnectNotify must not be entered for that (see docs/program.md).
class IdleNotifier : public QObject
{
    Q_OBJECT
Q_SIGNALS:
    void changed();
};

} // namespace QAyo::detail
