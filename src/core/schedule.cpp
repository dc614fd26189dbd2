// SPDX-License-Identifier: MIT
// after / at / every: a schedule is a deadline entry that spawns one task per call.
#include <QAyo/scheduled.h>
#include <QAyo/scope.h>

#include "cancelwalk_p.h"
#include "errors_p.h"
#include "intrusivelist_p.h"
#include "logging_p.h"
#include "mailbox_p.h"
#include "scope_p.h"
#include "threadcontext_p.h"

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
    record->m_publishedDue.store(NoDue, std::memory_order_relaxed); // out of the heap: re-armed below or over
    ScopePrivate *d = record->scope;
    if (!record->active.load(std::memory_order_relaxed) || !d)
        return;
    Clock *clock = Clock::current();
    const TimePoint now = clock->now();
    if (record->kind == Kind::At) {
        const auto remaining = *record->wallTarget - clock->systemNow();
        if (remaining > decltype(remaining)::zero()) { // the system time moved back: not yet
            record->armFor(now + std::min<Clock::Duration>(remaining, WallClockRecheck));
            return;
        }
    }
    if (record->kind == Kind::Every) {
        // Drift-free: tick k is due at firstDue + k * interval, whatever the calls took.
        ++record->tick;
        TimePoint next = record->firstDue + record->tick * record->interval;
        while (next <= now) { // the loop was late by more than a period: those ticks are lost
            ++record->tick;
            record->countSkipped();
            next += record->interval;
        }
        record->armFor(next);
    }

    record->ref(); // signals emitted while spawning may run arbitrary code
    const bool overlapping = record->lastCall
        && !record->lastCall->isDone();
    if (overlapping) {
        record->countSkipped();
        qCDebug(lcTime) << "every(): skipping a tick, the previous call still runs";
    } else if (!d->m_dying && !d->m_finished) {
        spawnCall(record, d);
    }
    if (record->kind != Kind::Every && record->scope)
        record->scope->deactivateSchedule(record); // its one call is a task of the scope now
    record->deref();
}

void ScheduleRecord::spawnCall(ScheduleRecord *record, ScopePrivate *d) noexcept
{
    TaskRecord *call = nullptr;
    try {
        call = record->makeCall();
        call->ref(); // lastCall's reference; taken first: a call dropped by its scope ends in the spawn
        d->spawnScheduledCall(call);
    } catch (...) {
        // Out of memory (the call's record or its limiter ticket): nothing was spawned. A failed
        // call of the scope, as if its task had thrown: the join and errors() see it.
        if (call)
            call->deref(); // the spawn settled it and dropped the scope's reference: it is gone
        d->scheduledCallFailed(std::current_exception());
        return;
    }
    if (record->lastCall)
        record->lastCall->deref();
    record->lastCall = call;
}

void ScheduleRecord::armFor(TimePoint due) noexcept
{
    m_publishedDue.store(due.time_since_epoch().count(), std::memory_order_relaxed);
    arm(due);
}

std::optional<TimePoint> ScheduleRecord::publishedDue() const noexcept
{
    const TimePoint::rep due = m_publishedDue.load(std::memory_order_relaxed);
    if (due == NoDue)
        return std::nullopt;
    return TimePoint(TimePoint::duration(due));
}

// --- the switches, from any thread ---------------------------------------------------------------
// A schedule lives on its scope's thread (its deadline, its scope's lists). A switch used on
// another thread sets a request bit and mails a RequestLetter to the home thread, found by the id
// of its QAyo context (the mailbox: safe even if the scope or the thread is gone by then).
// A schedule made from another thread has no home yet while its activation travels to the scope:
// then becomeHome() carries the requests out when it gets there.

struct ScheduleRecord::RequestLetter final : ReadyNode
{
    explicit RequestLetter(ScheduleRecord *record) noexcept : ReadyNode(&RequestLetter::run), record(record) {}
    static void run(ReadyNode *node) noexcept
    {
        auto *letter = static_cast<RequestLetter *>(node);
        letter->record->applyRequests();
        discard(node);
    }
    static void discard(ReadyNode *node) noexcept
    {
        auto *letter = static_cast<RequestLetter *>(node);
        letter->record->deref();
        delete letter;
    }
    ScheduleRecord *record;
};

bool ScheduleRecord::isOnHomeThread() const noexcept
{
    const std::uint32_t home = m_homeContext.load(std::memory_order_relaxed);
    return home != 0 && home == threadHomeIdIfAny();
}

void ScheduleRecord::request(Request what) noexcept
{
    // seq_cst pairs with becomeHome(): set the bit, then look for the home; becomeHome() sets
    // the home, then takes the bits. One of the two sees the other's write (the letter and
    // becomeHome() may both find the bit: applying takes it, the other finds nothing).
    m_requests.fetch_or(what, std::memory_order_seq_cst);
    const std::uint32_t home = m_homeContext.load(std::memory_order_seq_cst);
    if (home == 0)
        return; // becomeHome() carries it out (or the schedule never starts: nothing to do)
    ref(); // the letter's
    auto *letter = new RequestLetter(this);
    if (!post(MailAddress::context(home), letter, &RequestLetter::discard)) {
        // The scope's thread has ended: the schedule can never fire again.
        qCDebug(lcTime) << "scheduled callback switched from another thread: its thread has ended";
        RequestLetter::discard(letter);
    }
}

void ScheduleRecord::becomeHome(std::uint32_t homeId) noexcept
{
    m_homeContext.store(homeId, std::memory_order_seq_cst); // see request()
    applyRequests();
}

void ScheduleRecord::applyRequests() noexcept
{
    const quint8 pending = m_requests.exchange(0, std::memory_order_seq_cst);
    if (!pending)
        return;
    ref(); // deactivating drops the scope's reference
    if (pending & DontHoldExitRequest)
        dontHoldExitHere();
    if (pending & CancelRequest)
        cancelHere();
    else if (pending & UnscheduleRequest)
        unscheduleHere();
    deref();
}

void ScheduleRecord::onHomeThread(Request what, void (ScheduleRecord::*here)() noexcept) noexcept
{
    if (Q_UNLIKELY(!isOnHomeThread()))
        return request(what);
    (this->*here)();
}

void ScheduleRecord::unschedule() noexcept
{
    onHomeThread(UnscheduleRequest, &ScheduleRecord::unscheduleHere);
}

void ScheduleRecord::cancel() noexcept
{
    onHomeThread(CancelRequest, &ScheduleRecord::cancelHere);
}

void ScheduleRecord::dontHoldExit() noexcept
{
    onHomeThread(DontHoldExitRequest, &ScheduleRecord::dontHoldExitHere);
}

void ScheduleRecord::unscheduleHere() noexcept
{
    if (scope)
        scope->deactivateSchedule(this);
}

void ScheduleRecord::cancelHere() noexcept
{
    ref();
    unscheduleHere();
    if (lastCall)
        lastCall->requestCancel();
    deref();
}

void ScheduleRecord::dontHoldExitHere() noexcept
{
    if (!holdsExit.load(std::memory_order_relaxed))
        return;
    holdsExit.store(false, std::memory_order_relaxed);
    if (active.load(std::memory_order_relaxed) && scope) {
        --scope->m_heldSchedules;
        scope->checkJoin();
    }
}

void ScopePrivate::spawnScheduledCall(TaskRecord *call)
{
    q->spawnRecord(call, Scope::SpawnKind::Normal); // on the scope's thread: throws only bad_alloc
}

void ScopePrivate::scheduledCallFailed(std::exception_ptr error) noexcept
{
    qCWarning(lcTime).noquote() << QStringLiteral("scope %1: a call of after/at/every could not be spawned: %2")
                                       .arg(labelFromAnyThread(), describeException(error));
    reportFailure(std::move(error), nullptr); // as a task that failed
}

void ScopePrivate::linkSchedule(ScheduleRecord *record) noexcept
{
    record->scope = this;
    pushFront<&ScheduleRecord::prevInScope, &ScheduleRecord::nextInScope>(firstSchedule, record);
}

void ScopePrivate::deactivateSchedule(ScheduleRecord *record) noexcept
{
    if (unlinkSchedule(record))
        record->deref(); // the scope's reference
}

bool ScopePrivate::unlinkSchedule(ScheduleRecord *record) noexcept
{
    if (!record->active.load(std::memory_order_relaxed))
        return false;
    record->active.store(false, std::memory_order_relaxed);
    record->DeadlineEntry::cancel();
    unlinkFrom<&ScheduleRecord::prevInScope, &ScheduleRecord::nextInScope>(firstSchedule, record);
    record->scope = nullptr;
    if (record->holdsExit.load(std::memory_order_relaxed)) {
        --m_heldSchedules;
        checkJoin();
    }
    return true;
}

void ScopePrivate::deactivateAllSchedules(CancelWalk &walk) noexcept
{
    // The last reference may be the scope's: the callable (user code) dies after the walk.
    while (ScheduleRecord *record = firstSchedule) {
        unlinkSchedule(record);
        walk.derefLater(record);
    }
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
                r->ref(); // for becomeHome(): activating may drop the scope's reference
                if (!d->m_dying && !d->m_finished)
                    activateSchedule(r, kind, delay, when);
                else
                    r->deref(); // the scope's reference: never active
                // Switches used while it travelled here (unschedule() from the thread that made
                // it, say) take effect now.
                r->becomeHome(detail::ThreadContext::current()->homeId());
                r->deref();
            },
            Qt::QueuedConnection);
        return handle;
    }
    // Home before it is returned: no other thread can have used a switch yet.
    record->setHomeUnshared(detail::ThreadContext::current()->homeId());
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
    record->active.store(true, std::memory_order_relaxed);
    if (record->holdsExit.load(std::memory_order_relaxed)) // as deactivateSchedule() counts it
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
    record->armFor(due);

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
    return m_record && m_record->active.load(std::memory_order_relaxed);
}

bool Scheduled::holdsExit() const noexcept
{
    return isActive() && m_record->holdsExit.load(std::memory_order_relaxed);
}

std::optional<Clock::TimePoint> Scheduled::nextDue() const noexcept
{
    if (!isActive())
        return std::nullopt;
    return m_record->publishedDue();
}

int Scheduled::skippedTicks() const noexcept
{
    return m_record ? m_record->skipped.load(std::memory_order_relaxed) : 0;
}

} // namespace QAyo
