// SPDX-License-Identifier: MIT
#pragma once

#include <QObject>
#include <QScopedPointer>

class QSocketNotifier;

namespace QAyo::detail {

//! Turns Unix signals into Qt signals through a self-pipe (the handler only write()s a byte,
//! which is async-signal-safe) and a QSocketNotifier on the pipe's read end. One watcher may
//! be installed at a time; it restores the previous handlers when destroyed.
//!
//! SIGINT/SIGTERM/SIGHUP are termination requests: the first one is reported with
//! terminationRequested(); a second one, while the first is being handled, makes the handler
//! call _exit(128 + first signal) at once. SIGUSR1 (if asked) is reported with dumpRequested().
class UnixSignalWatcher : public QObject
{
    Q_OBJECT
public:
    //! Installs the handlers; isInstalled() is false if another watcher is installed already
    //! or the pipe could not be made (a warning says why).
    UnixSignalWatcher(bool handleTermination, bool handleSighup, bool handleSigusr1,
                      QObject *parent = nullptr);
    ~UnixSignalWatcher() override;

    bool isInstalled() const { return m_installed; }

Q_SIGNALS:
    void terminationRequested(int signalNumber);
    void dumpRequested();

private:
    void readPipe();

    bool m_installed = false;
    bool m_termination = false;
    bool m_sighup = false;
    bool m_sigusr1 = false;
    QSocketNotifier *m_notifier = nullptr;
};

} // namespace QAyo::detail
