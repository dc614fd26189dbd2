// SPDX-License-Identifier: MIT
#pragma once

// Where QAyo's time comes from. Every deadline (QAyo::sleep, scope timeouts, after/at/every)
// goes into one heap per thread; the thread's Clock is asked to wake it for the earliest one.
// The default clock arms a single Qt::PreciseTimer; tests install a virtual clock instead.

#include <QAyo/detail/scheduling.h>
#include <QAyo/detail/wakeable.h>

#include <chrono>

namespace QAyo {

namespace detail {
class ThreadContext;
}

//! The source of time for the calling thread's QAyo deadlines (see file comment).
/*!
 * Subclass it to replace time (QAyo::Test::VirtualClock does). A clock is installed per thread
 * and must be used only on that thread.
 */
class QAYO_CORE_EXPORT Clock
{
public:
    //! QAyo's time line: a steady clock, so changes of the system time do not move deadlines.
    using TimePoint = std::chrono::steady_clock::time_point;
    //! Durations, in nanoseconds.
    using Duration = std::chrono::nanoseconds;

    //! Destroys the clock; it must not be installed any more (VirtualClock uninstalls itself).
    virtual ~Clock();

    //! The current time of this clock.
    virtual TimePoint now() const = 0;
    //! The current wall-clock time (for Scope::at()); a virtual clock moves it along with now().
    virtual std::chrono::system_clock::time_point systemNow() const;

    //! The clock of the calling thread: an installed one, else the real clock.
    static Clock *current();
    //! Installs \a clock for the calling thread (nullptr restores the real clock). The caller
    //! keeps ownership and must uninstall it before deleting it.
    static void install(Clock *clock);
    //! The calling thread's earliest pending deadline, or TimePoint::max() if none.
    static TimePoint nextDeadline();
    //! How many deadlines are pending on the calling thread (sleeps, timeouts, schedules).
    static int pendingDeadlines();

protected:
    //! Asks the clock to call processDueDeadlines() once now() reaches \a due. TimePoint::max()
    //! means no deadline is pending. Called often: re-arm only when needed.
    virtual void wakeUpAt(TimePoint due) = 0;
    //! Fires every deadline that is due at now(); subclasses call it when time has passed.
    static void processDueDeadlines();

private:
    friend class detail::ThreadContext;
};

namespace detail {

//! co_await QAyo::sleep(d): a deadline entry that wakes its task through the ready queue.
class QAYO_CORE_EXPORT SleepAwaiter final : public WakeableAwaiter, public DeadlineEntry
{
public:
    explicit SleepAwaiter(Clock::Duration duration) noexcept
        : DeadlineEntry(&SleepAwaiter::fired), m_duration(duration)
    {
    }
    SleepAwaiter(SleepAwaiter &&other) noexcept = default;

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept;
    void await_resume() const noexcept {}
    void cancelRequested() noexcept override;

private:
    static void fired(DeadlineEntry *entry) noexcept;
    Clock::Duration m_duration;
};

} // namespace detail

//! Suspends the task for \a duration of the thread's Clock; wakes at once when cancelled.
/*!
 * A zero or negative duration yields one turn of the event loop. Outside a QAyo::Task (e.g. in a
 * QCoro::Task) it sleeps without cancellation.
 */
inline detail::SleepAwaiter sleep(Clock::Duration duration) noexcept
{
    return detail::SleepAwaiter(duration);
}

} // namespace QAyo
