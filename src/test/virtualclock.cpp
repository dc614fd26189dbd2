// SPDX-License-Identifier: MIT
#include <QAyo/errors.h>
#include <QAyo/virtualclock.h>

#include <QCoreApplication>

namespace QAyo::detail {
// From QAyo::Core (threadcontext.cpp): the calling thread's ready queue.
QAYO_CORE_EXPORT bool readyQueueIsEmpty() noexcept;
QAYO_CORE_EXPORT void runReadyQueue() noexcept;
} // namespace QAyo::detail

namespace QAyo::Test {

namespace {
thread_local VirtualClock *installedClock = nullptr;
} // namespace

VirtualClock::VirtualClock(Mode mode, QObject *parent)
    : QObject(parent), m_start(std::chrono::steady_clock::now()), m_now(m_start),
      m_systemStart(std::chrono::system_clock::now()), m_mode(mode)
{
    m_jumpTimer.setSingleShot(true);
    connect(&m_jumpTimer, &QTimer::timeout, this, &VirtualClock::jumpIfIdle);
}

VirtualClock::~VirtualClock()
{
    if (m_installed)
        uninstall();
}

void VirtualClock::install()
{
    if (installedClock && installedClock != this)
        throw InvalidStateError(QStringLiteral("VirtualClock::install: another VirtualClock is installed on this thread"));
    installedClock = this;
    m_installed = true;
    Clock::install(this);
}

void VirtualClock::uninstall()
{
    if (!m_installed)
        return;
    m_installed = false;
    m_jumpTimer.stop();
    if (installedClock == this)
        installedClock = nullptr;
    Clock::install(nullptr);
}

std::chrono::system_clock::time_point VirtualClock::systemNow() const
{
    return m_systemStart + std::chrono::duration_cast<std::chrono::system_clock::duration>(m_now - m_start);
}

void VirtualClock::advance(Duration duration)
{
    if (duration < Duration::zero())
        throw InvalidArgument(QStringLiteral("VirtualClock::advance: duration must not be negative, got %1 ns")
                                  .arg(duration.count()));
    advanceTo(m_now + duration);
}

void VirtualClock::advanceTo(TimePoint time)
{
    if (time < m_now)
        throw InvalidArgument(QStringLiteral("VirtualClock::advanceTo: time is %1 ns before now()")
                                  .arg((m_now - time).count()));
    // Step from deadline to deadline: fire what is due, then let the woken tasks run (they may
    // create new deadlines inside the window), then go on.
    detail::runReadyQueue();
    for (;;) {
        const TimePoint next = Clock::nextDeadline();
        if (next > time)
            break;
        m_now = std::max(m_now, next);
        processDueDeadlines();
        detail::runReadyQueue();
    }
    m_now = time;
}

void VirtualClock::setMode(Mode mode)
{
    m_mode = mode;
    if (m_mode == Mode::AutoJump && m_installed)
        wakeUpAt(Clock::nextDeadline());
}

void VirtualClock::wakeUpAt(TimePoint due)
{
    if (m_mode == Mode::AutoJump && due != TimePoint::max() && !m_jumpTimer.isActive())
        m_jumpTimer.start(0);
}

void VirtualClock::jumpIfIdle()
{
    if (!m_installed || m_mode != Mode::AutoJump)
        return;
    const TimePoint next = Clock::nextDeadline();
    if (next == TimePoint::max())
        return;
    if (!detail::readyQueueIsEmpty()) {
        m_jumpTimer.start(0); // something can still run: let it, then look again
        return;
    }
    m_now = std::max(m_now, next);
    processDueDeadlines(); // re-arms the jump for the following deadline
}

} // namespace QAyo::Test
