// SPDX-License-Identifier: MIT
// The QProcess and QIODevice waits of <QAyo/Waits>.
//
// Each public function checks its arguments (so a bad one throws at the call) and returns a
// QAyo::Task whose frame owns what must be undone if the wait is cut short. A process guard is a
// parameter of the coroutine, not a local of its body: parameters live in the frame from the
// moment the Task is created, so a wait that is dropped, or awaited by a task that is cancelled
// already (its body never runs), still stops the process when its frame goes. A destroyed frame
// runs destructors, never catch blocks: the guard's destructor is the one place that always runs.
#include <QAyo/cancellation.h>
#include <QAyo/detail/firstsignal.h>
#include <QAyo/waits.h>

#include <QFileDevice>
#include <QIODevice>
#include <QPointer>
#include <QProcess>
#include <QTimer>

namespace QAyo {

namespace {

using std::chrono::milliseconds;

const QString KillTimerName = QStringLiteral("QAyo::killTimer");

QString programOf(const QProcess *process)
{
    return process->program().isEmpty() ? QStringLiteral("(no program)") : process->program();
}

//! Asks \a process to stop: terminate() now, kill() after \a grace. Does not wait. The kill timer
//! is a child of the process and goes away as soon as the process has ended, so nothing is left
//! behind; a second call while one stop is under way changes nothing.
void stopProcess(QProcess *process, milliseconds grace)
{
    if (process->state() == QProcess::NotRunning)
        return;
    if (process->findChild<QTimer *>(KillTimerName, Qt::FindDirectChildrenOnly))
        return;
    if (grace <= milliseconds(0)) {
        process->kill();
        return;
    }
    process->terminate();
    auto *timer = new QTimer(process);
    timer->setObjectName(KillTimerName);
    timer->setSingleShot(true);
    QObject::connect(timer, &QTimer::timeout, process, [process] { process->kill(); });
    QObject::connect(process, &QProcess::stateChanged, timer,
                     [timer](QProcess::ProcessState state) {
                         if (state == QProcess::NotRunning)
                             timer->deleteLater();
                     });
    timer->start(grace);
}

//! Stops the process when destroyed, unless disarmed (see the file comment).
class ProcessGuard
{
public:
    ProcessGuard(QProcess *process, milliseconds grace) : m_process(process), m_grace(grace) {}
    ProcessGuard(ProcessGuard &&other) noexcept
        : m_process(other.m_process), m_grace(other.m_grace),
          m_armed(std::exchange(other.m_armed, false))
    {
    }
    ProcessGuard &operator=(ProcessGuard &&) = delete;
    ~ProcessGuard() { stop(); }

    QPointer<QProcess> process() const { return m_process; }
    //! The wait has its outcome: the process is no longer ours to stop.
    void disarm() noexcept { m_armed = false; }
    //! Starts stopping the process (once).
    void stop()
    {
        if (std::exchange(m_armed, false) && m_process)
            stopProcess(m_process, m_grace);
    }

private:
    QPointer<QProcess> m_process;
    milliseconds m_grace;
    bool m_armed = true;
};

ObjectDestroyedError processDestroyed(const char *function)
{
    return ObjectDestroyedError(QStringLiteral("%1: the QProcess was destroyed while waiting")
                                    .arg(QLatin1String(function)));
}

//! Waits for the next state change of \a process; ObjectDestroyedError if it is deleted.
Task<> nextStateChange(const char *function, QPointer<QProcess> process)
{
    co_await detail::firstSignal(function, process.data(), &QProcess::stateChanged);
    // ~QProcess kills a running process and reports NotRunning before `destroyed`: the wait
    // wakes, and only on resuming can it see that the object is gone.
    if (!process)
        throw processDestroyed(function);
}

//! The cancellation path: stops the process and waits until it has ended (shielded by the caller,
//! so a repeated cancel cannot cut it short; the kill after the grace period bounds it).
Task<> stopAndWait(const char *function, ProcessGuard &guard)
{
    const QPointer<QProcess> process = guard.process();
    guard.stop();
    bool destroyed = false;
    while (!destroyed && process && process->state() != QProcess::NotRunning) {
        try {
            co_await nextStateChange(function, process);
        } catch (const ObjectDestroyedError &) {
            destroyed = true; // gone with its object: ~QProcess killed it
        }
    }
}

void throwIfFailedToStart(const char *function, const QProcess *process)
{
    if (process->state() == QProcess::NotRunning && process->error() == QProcess::FailedToStart)
        throw ProcessError(QStringLiteral("%1: process '%2' failed to start: %3")
                               .arg(QLatin1String(function), programOf(process),
                                    process->errorString()));
}

//! Waits while \a process is in \a state (Starting, or anything but NotRunning when \a
//! untilStopped). On cancellation the process is stopped, and waited for, before Cancelled goes
//! on; on success the guard is disarmed.
Task<> waitOutState(const char *function, ProcessGuard &guard, bool untilStopped)
{
    const QPointer<QProcess> process = guard.process();
    const auto waiting = [&] {
        return untilStopped ? process->state() != QProcess::NotRunning
                            : process->state() == QProcess::Starting;
    };
    bool cancelled = false;
    try {
        if (!process)
            throw processDestroyed(function);
        while (waiting())
            co_await nextStateChange(function, process);
    } catch (const Cancelled &) {
        cancelled = true; // no co_await in a handler: the cleanup follows below
    }
    if (cancelled) {
        co_await shield(stopAndWait(function, guard));
        throw Cancelled{};
    }
    guard.disarm();
    throwIfFailedToStart(function, process);
}

Task<> startedTask(ProcessGuard guard)
{
    co_await waitOutState("processStarted", guard, false);
}

Task<int> finishedTask(ProcessGuard guard)
{
    static constexpr char function[] = "processFinished";
    co_await waitOutState(function, guard, true);
    const QPointer<QProcess> process = guard.process();
    if (process->exitStatus() == QProcess::CrashExit)
        throw ProcessError(QStringLiteral("%1: process '%2' crashed: %3")
                               .arg(QLatin1String(function), programOf(process),
                                    process->errorString()));
    co_return process->exitCode();
}

void checkProcessArguments(const char *function, const QProcess *process, milliseconds grace)
{
    if (!process)
        throw InvalidArgument(QStringLiteral("%1: process is null").arg(QLatin1String(function)));
    if (grace < milliseconds(0))
        throw InvalidArgument(QStringLiteral("%1: grace must not be negative (got %2 ms)")
                                  .arg(QLatin1String(function))
                                  .arg(grace.count()));
}

ObjectDestroyedError deviceDestroyed(const char *function)
{
    return ObjectDestroyedError(QStringLiteral("%1: the QIODevice was destroyed while waiting")
                                    .arg(QLatin1String(function)));
}

Task<qint64> readyReadTask(QPointer<QIODevice> device)
{
    static constexpr char function[] = "readyRead";
    for (;;) {
        if (!device)
            throw deviceDestroyed(function);
        if (!device->isOpen())
            co_return 0;
        const qint64 available = device->bytesAvailable();
        if (available > 0 || !device->isSequential())
            co_return available;
        int which = 0;
        if (auto *process = qobject_cast<QProcess *>(device.data())) {
            if (process->state() == QProcess::NotRunning)
                co_return 0; // everything it wrote has been read into its buffer already
            which = co_await detail::firstSignal(function, process, &QIODevice::readyRead,
                                                 &QIODevice::readChannelFinished,
                                                 &QIODevice::aboutToClose, &QProcess::finished);
        } else {
            which = co_await detail::firstSignal(function, device.data(), &QIODevice::readyRead,
                                                 &QIODevice::readChannelFinished,
                                                 &QIODevice::aboutToClose);
        }
        if (!device)
            throw deviceDestroyed(function);
        if (which != 0) // the channel finished or the device closed: whatever is left, maybe 0
            co_return device->isOpen() ? device->bytesAvailable() : 0;
        // readyRead: loop, someone else may have read the data already
    }
}

Task<bool> bytesWrittenTask(QPointer<QIODevice> device)
{
    static constexpr char function[] = "bytesWritten";
    for (;;) {
        if (!device)
            throw deviceDestroyed(function);
        if (auto *file = qobject_cast<QFileDevice *>(device.data()))
            co_return file->flush();
        if (device->bytesToWrite() == 0)
            co_return true;
        if (!device->isOpen())
            co_return false;
        if (auto *process = qobject_cast<QProcess *>(device.data())) {
            if (process->state() == QProcess::NotRunning)
                co_return false;
            co_await detail::firstSignal(function, process, &QIODevice::bytesWritten,
                                         &QIODevice::aboutToClose, &QProcess::finished);
        } else {
            co_await detail::firstSignal(function, device.data(), &QIODevice::bytesWritten,
                                         &QIODevice::aboutToClose);
        }
    }
}

void checkDevice(const char *function, const QIODevice *device, QIODevice::OpenModeFlag needed)
{
    if (!device)
        throw InvalidArgument(QStringLiteral("%1: device is null").arg(QLatin1String(function)));
    if (device->isOpen() && !(device->openMode() & needed))
        throw InvalidArgument(QStringLiteral("%1: device is open but not %2")
                                  .arg(QLatin1String(function),
                                       needed == QIODevice::ReadOnly ? QStringLiteral("readable")
                                                                     : QStringLiteral("writable")));
}

} // namespace

Task<> processStarted(QProcess *process, milliseconds grace)
{
    checkProcessArguments("processStarted", process, grace);
    return startedTask(ProcessGuard(process, grace));
}

Task<int> processFinished(QProcess *process, milliseconds grace)
{
    checkProcessArguments("processFinished", process, grace);
    return finishedTask(ProcessGuard(process, grace));
}

Task<qint64> readyRead(QIODevice *device)
{
    checkDevice("readyRead", device, QIODevice::ReadOnly);
    return readyReadTask(device);
}

Task<bool> bytesWritten(QIODevice *device)
{
    checkDevice("bytesWritten", device, QIODevice::WriteOnly);
    return bytesWrittenTask(device);
}

} // namespace QAyo
