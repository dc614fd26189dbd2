// SPDX-License-Identifier: MIT
// A long process in a scope with a 200 ms timeout: `sleep 30` is started and awaited with
// QAyo::processFinished(). The timeout cancels the wait, the wait terminates the process and waits
// for it to end, and so, when the scope exits, the process is gone - no orphan keeps running.
#include <QAyo/QAyo>

#include <QElapsedTimer>
#include <QProcess>
#include <QTextStream>

#ifdef Q_OS_UNIX
#include <cerrno>
#include <csignal>
#endif

using namespace std::chrono_literals;

namespace {
QTextStream out(stdout);

//! Asks the operating system whether process \a pid still exists.
QString osSays(qint64 pid)
{
#ifdef Q_OS_UNIX
    if (::kill(pid_t(pid), 0) == -1 && errno == ESRCH)
        return QStringLiteral("no process with pid %1 exists any more").arg(pid);
    return QStringLiteral("pid %1 is still there").arg(pid);
#else
    return QStringLiteral("(no pid check on this system)");
#endif
}
} // namespace

int main(int argc, char **argv)
{
    return QAyo::runAsMain(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> {
        QProcess process; // outlives the scope below, so we can look at it afterwards
        qint64 pid = 0;
        QElapsedTimer clock;
        clock.start();
        auto outcome = co_await QAyo::scope({.timeout = 200ms}, [&](QAyo::Scope &) -> QAyo::Task<> {
            process.start(QStringLiteral("sleep"), {QStringLiteral("30")});
            co_await QAyo::processStarted(&process);
            pid = process.processId();
            out << "started `sleep 30` (pid " << pid << ") in a scope with a 200 ms timeout\n";
            out.flush();
            const int exitCode = co_await QAyo::processFinished(&process); // cancelled at 200 ms
            out << "sleep finished by itself with exit code " << exitCode << " (not expected)\n";
        });
        out << "scope exited after " << clock.elapsed() << " ms"
            << (outcome.timedOut ? " (timed out)" : "") << "\n";
        out << "process state: "
            << (process.state() == QProcess::NotRunning ? "not running" : "STILL RUNNING")
            << ", ended by "
            << (process.exitStatus() == QProcess::CrashExit ? "a signal (terminated)" : "itself")
            << "\n";
        out << "the system says: " << osSays(pid) << "\n";
        out.flush();
    });
}
