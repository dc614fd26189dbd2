// SPDX-License-Identifier: MIT
// Where time comes from: QAyo::Clock's entry points (the calling thread's clock), the default
// real-time clock with one precise QTimer per thread, and QAyo::sleep's awaiter.
#include "threadcontext_p.h"

#include <algorithm>

namespace QAyo::detail {

RealClock::RealClock()
{
    m_timer.setSingleShot(true);
    m_timer.setTimerType(Qt::PreciseTimer);
    QObject::connect(&m_timer, &QTimer::timeout, this, [this] {
        m_armedFor = TimePoint::max();
        processDueDeadlines();
    });
}

void RealClock::wakeUpAt(TimePoint due)
{
    if (due == TimePoint::max()) {
        if (m_timer.isActive())
            m_timer.stop();
        m_armedFor = TimePoint::max();
        return;
    }
    if (m_timer.isActive() && m_armedFor <= due)
        return; // an earlier (or equal) wake-up is armed already
    // QTimer takes an int of milliseconds (24.8 days at most): a farther deadline wakes the clock
    // after a day, finds nothing due and re-arms for what is left.
    constexpr std::chrono::milliseconds longestWait = std::chrono::hours(24);
    const TimePoint current = now();
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(due - current);
    const auto armed = std::clamp(wait, std::chrono::milliseconds(0), longestWait);
    m_armedFor = armed == wait ? due : current + armed;
    m_timer.start(armed);
}

} // namespace QAyo::detail

namespace QAyo {

Clock::~Clock() = default;

std::chrono::system_clock::time_point Clock::systemNow() const
{
    return std::chrono::system_clock::now();
}

Clock *Clock::current()
{
    return detail::ThreadContext::current()->clock();
}

void Clock::install(Clock *clock)
{
    detail::ThreadContext::current()->install(clock);
}

Clock::TimePoint Clock::nextDeadline()
{
    return detail::ThreadContext::current()->earliest();
}

int Clock::pendingDeadlines()
{
    return detail::ThreadContext::current()->pendingDeadlines();
}

void Clock::processDueDeadlines()
{
    detail::ThreadContext::current()->processDue();
}

namespace detail {

void SleepAwaiter::await_suspend(std::coroutine_handle<> h) noexcept
{
    m_waiting = h;
    if (m_duration <= Clock::Duration::zero()) {
        wake();
        return;
    }
    ThreadContext *context = ThreadContext::current();
    context->arm(this, context->clock()->now() + m_duration);
}

void SleepAwaiter::cancelRequested() noexcept
{
    if (DeadlineEntry::isQueued()) {
        DeadlineEntry::cancel();
        wake();
    }
}

void SleepAwaiter::fired(DeadlineEntry *entry) noexcept
{
    static_cast<SleepAwaiter *>(entry)->wake();
}

} // namespace detail
} // namespace QAyo
