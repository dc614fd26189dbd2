// SPDX-License-Identifier: MIT
#pragma once

// Scheduled callbacks: what Scope::after/at/every create and return.

#include <QAyo/clock.h>
#include <QAyo/detail/record.h>
#include <QAyo/detail/scheduling.h>

#include <atomic>
#include <cstdint>
#include <limits>
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

    //! What a call from another thread asks the scope's thread to do (see request()).
    enum Request : quint8 { UnscheduleRequest = 1, CancelRequest = 2, DontHoldExitRequest = 4 };

    //! Makes the record of one call (a task of the scope).
    virtual TaskRecord *makeCall() = 0;

    // The three switches work from any thread: off the scope's thread they are requests that
    // take effect there soon after (request()).
    //! Stops future calls; a call that is running goes on. Releases the exit hold.
    void unschedule() noexcept;
    //! unschedule(), and cancels the running call.
    void cancel() noexcept;
    //! Stops holding the scope's exit.
    void dontHoldExit() noexcept;

    //! On the scope's thread: marks it the home thread and carries out the requests made before.
    void becomeHome(std::uint32_t homeId) noexcept;
    //! becomeHome() for a record no other thread can see yet (made on the scope's thread).
    void setHomeUnshared(std::uint32_t homeId) noexcept { m_homeContext.store(homeId, std::memory_order_relaxed); }
    //! One more skipped tick (on the scope's thread: no read-modify-write needed).
    void countSkipped() noexcept { skipped.store(skipped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
    //! Arms the next call for \a due (and publishes it for nextDue()).
    void armFor(TimePoint due) noexcept;
    //! The next due time for Scheduled::nextDue(), readable from any thread.
    std::optional<TimePoint> publishedDue() const noexcept;

    ScopePrivate *scope = nullptr;
    ScheduleRecord *prevInScope = nullptr;
    ScheduleRecord *nextInScope = nullptr;
    TaskRecord *lastCall = nullptr; // referenced; for no-overlap and cancel()
    Clock::Duration interval{};
    TimePoint firstDue{};
    std::optional<std::chrono::system_clock::time_point> wallTarget; // at(): re-checked on wake
    qint64 tick = 0;
    // Written on the scope's thread only; atomic (relaxed) because Scheduled reads them anywhere.
    std::atomic<int> skipped{0};
    Kind kind = Kind::After;
    std::atomic<bool> active{false};
    std::atomic<bool> holdsExit{true};

private:
    static void fired(DeadlineEntry *entry) noexcept;
    //! Spawns the next call into \a d; a call that cannot be made becomes an error of the scope.
    static void spawnCall(ScheduleRecord *record, ScopePrivate *d) noexcept;
    bool isOnHomeThread() const noexcept;
    //! From another thread: records \a what and mails it to the home thread (or leaves it for
    //! becomeHome() if the schedule has not reached its scope yet).
    void request(Request what) noexcept;
    //! Runs \a here now on the home thread, or sends \a what there from another one.
    void onHomeThread(Request what, void (ScheduleRecord::*here)() noexcept) noexcept;
    //! On the home thread: carries out and clears the pending requests.
    void applyRequests() noexcept;
    void unscheduleHere() noexcept;
    void cancelHere() noexcept;
    void dontHoldExitHere() noexcept;
    struct RequestLetter;

    std::atomic<int> m_refs{1};
    std::atomic<quint8> m_requests{0};
    //! The homeId() of the home thread's QAyo context (set by becomeHome()); 0 before.
    std::atomic<std::uint32_t> m_homeContext{0};
    std::atomic<TimePoint::rep> m_publishedDue{NoDue};
    static constexpr TimePoint::rep NoDue = std::numeric_limits<TimePoint::rep>::min();
};

} // namespace detail

//! What Scope::after(), at() and every() return: the switch of a scheduled callback.
/*!
 * A value type with shared state; it stays valid after the scope is gone (then inactive).
 *
 * Thread rules: every function works on any thread. dontHoldExit(), unschedule() and cancel()
 * called off the scope's thread take effect on the scope's thread soon after (a call to the
 * callback that is already due may still start before that); the getters read the state as
 * last published there.
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
    //! From another thread it takes effect on the scope's thread soon after.
    Scheduled &dontHoldExit();
    //! No further calls; a call already running finishes. Safe from inside the callback. From
    //! another thread it takes effect on the scope's thread soon after.
    void unschedule();
    //! unschedule(), and cancels a call that is running. From another thread it takes effect on
    //! the scope's thread soon after.
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
