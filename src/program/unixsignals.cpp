// SPDX-License-Identifier: MIT
#include "unixsignals_p.h"

#include "program_p.h"

#include <QSocketNotifier>

#include <atomic>
#include <cerrno>
#include <csignal>

#include <fcntl.h>
#include <unistd.h>

namespace QAyo::detail {

namespace {
// Read by the signal handler: only lock-free atomics and plain ints set before installation.
int pipeFds[2] = {-1, -1};
volatile std::sig_atomic_t firstTermination = 0;
std::atomic<bool> watcherInstalled{false};
struct sigaction previousInt, previousTerm, previousHup, previousUsr1;

extern "C" void qayoSignalHandler(int signalNumber)
{
    if (signalNumber != SIGUSR1) {
        // A second termination request while the first unwinds: the user insists, leave now.
        // _exit is async-signal-safe; exit() (atexit handlers, stdio) would not be.
        if (firstTermination != 0)
            _exit(128 + firstTermination);
        firstTermination = signalNumber;
    }
    const int savedErrno = errno; // write() may change it under the interrupted code's feet
    const char byte = char(signalNumber);
    [[maybe_unused]] const ssize_t written = ::write(pipeFds[1], &byte, 1);
    errno = savedErrno;
}

bool install(int signalNumber, struct sigaction *previous)
{
    struct sigaction action = {};
    action.sa_handler = qayoSignalHandler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART; // system calls of the interrupted code go on
    return ::sigaction(signalNumber, &action, previous) == 0;
}
} // namespace

UnixSignalWatcher::UnixSignalWatcher(bool handleTermination, bool handleSighup, bool handleSigusr1,
                                     QObject *parent)
    : QObject(parent), m_termination(handleTermination), m_sighup(handleTermination && handleSighup),
      m_sigusr1(handleSigusr1)
{
    if (watcherInstalled.exchange(true)) {
        qCWarning(lcProgram) << "Unix signals are handled by another QAyo::Runner already";
        return;
    }
    if (::pipe2(pipeFds, O_CLOEXEC | O_NONBLOCK) != 0) {
        qCWarning(lcProgram) << "cannot create the signal pipe:" << qt_error_string(errno);
        watcherInstalled = false;
        return;
    }
    firstTermination = 0;
    m_notifier = new QSocketNotifier(pipeFds[0], QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &UnixSignalWatcher::readPipe);
    if (m_termination) {
        install(SIGINT, &previousInt);
        install(SIGTERM, &previousTerm);
    }
    if (m_sighup)
        install(SIGHUP, &previousHup);
    if (m_sigusr1)
        install(SIGUSR1, &previousUsr1);
    m_installed = true;
}

UnixSignalWatcher::~UnixSignalWatcher()
{
    if (!m_installed)
        return;
    if (m_termination) {
        ::sigaction(SIGINT, &previousInt, nullptr);
        ::sigaction(SIGTERM, &previousTerm, nullptr);
    }
    if (m_sighup)
        ::sigaction(SIGHUP, &previousHup, nullptr);
    if (m_sigusr1)
        ::sigaction(SIGUSR1, &previousUsr1, nullptr);
    delete m_notifier;
    ::close(pipeFds[0]);
    ::close(pipeFds[1]);
    pipeFds[0] = pipeFds[1] = -1;
    firstTermination = 0;
    watcherInstalled = false;
}

void UnixSignalWatcher::readPipe()
{
    char bytes[16];
    ssize_t count;
    while ((count = ::read(pipeFds[0], bytes, sizeof bytes)) > 0) {
        for (ssize_t i = 0; i < count; ++i) {
            if (bytes[i] == SIGUSR1)
                Q_EMIT dumpRequested();
            else
                Q_EMIT terminationRequested(bytes[i]);
        }
    }
}

} // namespace QAyo::detail
