// SPDX-License-Identifier: MIT
// after / at / every: a schedule is a deadline entry that spawns one task per call.
#include <QAyo/scheduled.h>
#include <QAyo/scope.h>

#include "logging_p.h"
#include "scope_p.h"

#include <QThread>

namespace QAyo {

namespace detail {

namespace {
// at() re-reads the wall clock at least this often, so a changed system time is noticed.
constexpr auto WallClockRecheck = std::chrono::minutes(1);
} // namespace

ScheduleRecord::ScheduleRecord() noexcept : DeadlineEntry(&ScheduleRecord::fired) {}

ScheduleRecord::~ScheduleRecord()
{
    if (lastCall)
        lastCall->deref();
}

void ScheduleRecord::fired(DeadlineEntry *entry) noexcept
{
    auto *record = static_cast<ScheduleRecord *>(entry);
    ScopePrivate *d = record->scope;
    if (!record->active || !d)
        return;
    Clock *clock = Clock::current();
    const TimePoint now = clock->now();
    if (record->kind == Kind::At) {
        const auto remaining = *record->wallTarget - clock->systemNow();
        if (remaining > decltype(remaining)::zero()) { // the system time moved back: not yet
            record->arm(now + std::min<Clock::Duration>(remaining, WallClockRecheck));
            return;
        }
    }
    if (record->kind == Kind::Every) {
        // Drift-free: tick k is due at firstDue + k * interval, whatever the calls took.
        ++record->tick;
        TimePoint next = record->firstDue + record->tick * record->interval;
        while (next <= now) { // the loop was late by more than a period: those ticks are lost
            ++record->tick;
            ++record->skipped;
            next += record->interval;
        }
        record->arm(next);
    }

    record->ref(); // signals emitted while spawning may run arbitrary code
    const bool overlapping = record->lastCall
        && record->lastCall->state.load(std::memory_order_relaxed) != TaskRecord::State::Done;
    if (overlapping) {
        ++record->skipped;
        qCDebug(lcTime) << "every(): skipping a tick, the previous call still runs";
    } else if (!d->m_dying && !d->m_finished) {
        TaskRecord *call = record->makeCall();
        call->ref(); // lastCall's reference
        if (record->lastCall)
            record->lastCall->deref();
        record->lastCall = call;
        d->spawnScheduledCall(call);
    }
    if (record->kind != Kind::Every && record->scope)
        record->scope->deactivateSchedule(record); // its one call is a task of the scope now
    record->deref();
}

void ScheduleRecord::unschedule() noexcept
{
    if (scope)
        scope->deactivateSchedule(this);
}

void ScheduleRecord::cancel() noexcept
{
    ref();
    unschedule();
    if (lastCall)
        lastCall->requestCancel();
    deref();
}

void ScheduleRecord::dontHoldExit() noexcept
{
    if (!holdsExit)
        return;
    holdsExit = false;
    if (active && scope) {
        --scope->m_heldSchedules;
        scope->checkJoin();
    }
}

void ScopePrivate::spawnScheduledCall(TaskRecord *call) noexcept
{
    q->spawnRecord(call, Scope::SpawnKind::Normal); // on the scope's thread: does not throw
}

void ScopePrivate::linkSchedule(ScheduleRecord *record) noexcept
{
    record->scope = this;
    record->prevInScope = nullptr;
    record->nextInScope = firstSchedule;
    if (firstSchedule)
        firstSchedule->prevInScope = record;
    firstSchedule = record;
}

void ScopePrivate::deactivateSchedule(ScheduleRecord *record) noexcept
{
    if (!record->active)
        return;
    record->active = false;
    record->DeadlineEntry::cancel();
    if (record->prevInScope)
        record->prevInScope->nextInScope = record->nextInScope;
    else
        firstSchedule = record->nextInScope;
    if (record->nextInScope)
        record->nextInScope->prevInScope = record->prevInScope;
    record->prevInScope = record->nextInScope = nullptr;
    record->scope = nullptr;
    if (record->holdsExit) {
        --m_heldSchedules;
        checkJoin();
    }
    record->deref(); // the scope's reference
}

void ScopePrivate::deactivateAllSchedules() noexcept
{
    while (firstSchedule)
        deactivateSchedule(firstSchedule);
}

} // namespace detail

// --- Scope::scheduleRecord -------------------------------------------------------------------

Scheduled Scope::scheduleRecord(detail::ScheduleRecord *record, detail::ScheduleRecord::Kind kind,
                                std::chrono::milliseconds delay,
                                std::optional<std::chrono::system_clock::time_point> when)
{
    using Kind = detail::ScheduleRecord::Kind;
    if (kind == Kind::After && delay < std::chrono::milliseconds::zero()) {
        record->deref();
        throw InvalidArgument(QStringLiteral("after: delay must not be negative, got %1 ms").arg(delay.count()));
    }
    record->kind = kind;
    record->ref(); // the handle's reference
    Scheduled handle(record);
    if (!d->isOnScopeThread()) {
        // From another thread: the schedule starts on the scope's thread. If the scope dies
        // first, the holder drops the references the call was to take over.
        struct Holder
        {
            explicit Holder(detail::ScheduleRecord *r) noexcept { record.store(r, std::memory_order_release); }
            Holder(const Holder &) = delete;
            Holder &operator=(const Holder &) = delete;
            ~Holder()
            {
                if (detail::ScheduleRecord *r = record.exchange(nullptr, std::memory_order_acq_rel))
                    r->deref(); // the scope's reference: never active
            }
            std::atomic<detail::ScheduleRecord *> record;
        };
        auto holder = std::make_shared<Holder>(record);
        QMetaObject::invokeMethod(
            this, [this, holder, kind, delay, when] {
                detail::ScheduleRecord *r = holder->record.exchange(nullptr, std::memory_order_acq_rel);
                if (!d->m_dying && !d->m_finished)
                    activateSchedule(r, kind, delay, when);
                else
                    r->deref(); // the scope's reference: never active
            },
            Qt::QueuedConnection);
        return handle;
    }
    activateSchedule(record, kind, delay, when);
    return handle;
}

void Scope::activateSchedule(detail::ScheduleRecord *record, detail::ScheduleRecord::Kind kind,
                             std::chrono::milliseconds delay,
                             std::optional<std::chrono::system_clock::time_point> when)
{
    using Kind = detail::ScheduleRecord::Kind;
    const bool wasActive = isActive();
    const bool firstStart = !d->m_started;
    d->ensureStarted();
    if (d->m_cancelled) {
        record->deref(); // never active: the scope's reference goes at once
        return;
    }
    d->linkSchedule(record);
    record->active = true;
    ++d->m_heldSchedules;

    Clock *clock = Clock::current();
    const auto now = clock->now();
    detail::TimePoint due;
    switch (kind) {
    case Kind::After:
        due = now + delay;
        break;
    case Kind::Every:
        record->interval = delay;
        due = now + delay;
        break;
    case Kind::At: {
        record->wallTarget = when;
        const auto remaining = std::max<Clock::Duration>(*when - clock->systemNow(), Clock::Duration::zero());
        due = now + std::min<Clock::Duration>(remaining, std::chrono::minutes(1));
        break;
    }
    }
    record->firstDue = due;
    record->arm(due);

    detail::ScopePrivate::Guard guard(d.get());
    if (firstStart)
        Q_EMIT started();
    if (!guard.destroyed && wasActive != isActive())
        Q_EMIT activeChanged();
}

// --- Scheduled ---------------------------------------------------------------------------------

Scheduled::Scheduled(const Scheduled &other) noexcept : m_record(other.m_record)
{
    if (m_record)
        m_record->ref();
}

Scheduled::~Scheduled()
{
    if (m_record)
        m_record->deref();
}

Scheduled &Scheduled::dontHoldExit()
{
    if (m_record)
        m_record->dontHoldExit();
    return *this;
}

void Scheduled::unschedule()
{
    if (m_record)
        m_record->unschedule();
}

void Scheduled::cancel()
{
    if (m_record)
        m_record->cancel();
}

bool Scheduled::isActive() const noexcept
{
    return m_record && m_record->active;
}

bool Scheduled::holdsExit() const noexcept
{
    return isActive() && m_record->holdsExit;
}

std::optional<Clock::TimePoint> Scheduled::nextDue() const noexcept
{
    if (!isActive() || !m_record->isQueued())
        return std::nullopt;
    return m_record->due;
}

int Scheduled::skippedTicks() const noexcept
{
    return m_record ? m_record->skipped : 0;
}

} // namespace QAyo
