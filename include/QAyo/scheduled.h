// SPDX-License-Identifier: MIT
#pragma once

// Scheduled callbacks: what Scope::after/at/every create and return.

#include <QAyo/clock.h>
#include <QAyo/detail/record.h>
#include <QAyo/detail/scheduling.h>

#include <atomic>
#include <optional>
#include <utility>

namespace QAyo {

namespace detail {

//! One after/at/every registration (see docs/time.md). Refcounted: the scope and every
//! Scheduled handle hold a reference; each call it makes holds one too (the callable lives here).
class QAYO_CORE_EXPORT ScheduleRecord : public DeadlineEntry
{
public:
    enum class Kind : quint8 { After, At, Every };

    ScheduleRecord() noexcept;
    ScheduleRecord(const ScheduleRecord &) = delete;
    ScheduleRecord &operator=(const ScheduleRecord &) = delete;
    virtual ~ScheduleRecord();

    void ref() noexcept { m_refs.fetch_add(1, std::memory_order_relaxed); }
    void deref() noexcept
    {
        if (m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
            delete this;
    }

    //! Makes the record of one call (a task of the scope).
    virtual TaskRecord *makeCall() = 0;

    //! Stops future calls; a call that is running goes on. Releases the exit hold.
    void unschedule() noexcept;
    //! unschedule(), and cancels the running call.
    void cancel() noexcept;
    //! Stops holding the scope's exit.
    void dontHoldExit() noexcept;

    ScopePrivate *scope = nullptr;
    ScheduleRecord *prevInScope = nullptr;
    ScheduleRecord *nextInScope = nullptr;
    TaskRecord *lastCall = nullptr; // referenced; for no-overlap and cancel()
    Clock::Duration interval{};
    TimePoint firstDue{};
    std::optional<std::chrono::system_clock::time_point> wallTarget; // at(): re-checked on wake
    qint64 tick = 0;
    int skipped = 0;
    Kind kind = Kind::After;
    bool active = false;
    bool holdsExit = true;

private:
    static void fired(DeadlineEntry *entry) noexcept;
    std::atomic<int> m_refs{1};
};

} // namespace detail

//! What Scope::after(), at() and every() return: the switch of a scheduled callback.
/*!
 * A value type with shared state; it stays valid after the scope is gone (then inactive).
 * Use it on the scope's thread.
 */
class QAYO_CORE_EXPORT Scheduled
{
public:
    //! An invalid handle.
    Scheduled() noexcept = default;
    //! Shares the registration of \a other.
    Scheduled(const Scheduled &other) noexcept;
    //! Takes over the registration of \a other.
    Scheduled(Scheduled &&other) noexcept : m_record(std::exchange(other.m_record, nullptr)) {}
    //! Shares the registration of \a other.
    Scheduled &operator=(Scheduled other) noexcept
    {
        std::swap(m_record, other.m_record);
        return *this;
    }
    //! Drops this reference; the registration stays in its scope.
    ~Scheduled();

    //! True if the handle refers to a registration.
    bool isValid() const noexcept { return m_record != nullptr; }
    //! The scope's join no longer waits for this callback (ayo's dont_hold_exit). Chainable.
    Scheduled &dontHoldExit();
    //! No further calls; a call already running finishes. Safe from inside the callback.
    void unschedule();
    //! unschedule(), and cancels a call that is running.
    void cancel();
    //! True while more calls are planned.
    bool isActive() const noexcept;
    //! True while the scope's join waits for this callback.
    bool holdsExit() const noexcept;
    //! When the next call is due (on the Clock's time line), if any.
    std::optional<Clock::TimePoint> nextDue() const noexcept;
    //! Ticks of an every() that were skipped: the previous call still ran, or the loop was late.
    int skippedTicks() const noexcept;

    //! Internal: adopts a record reference.
    explicit Scheduled(detail::ScheduleRecord *record) noexcept : m_record(record) {}

private:
    detail::ScheduleRecord *m_record = nullptr;
};

} // namespace QAyo
