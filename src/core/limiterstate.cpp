// SPDX-License-Identifier: MIT
// The inside of QAyo::Limiter: tickets arriving home, given back or orphaned; slot requests for
// spawns drawing from a limiter; the "wait that could never end" checks; the notification of
// changes (the model: limiterstate_p.h).
#include "limiterstate_p.h"
#include "scope_p.h"

#include <QPointer>

namespace QAyo {

namespace detail {

void LimiterTicket::settleArrival(bool ownerGone, GrantedTickets &passedOn) noexcept
{
    std::lock_guard lock(state->mutex);
    if (phase == Phase::Failed) {
        // A refusal (the limiter was destroyed): no slot travelled with it.
        phase = ownerGone ? Phase::Done : Phase::Refused;
    } else if (ownerGone) {
        // Withdrawn while travelling, or its thread has ended: the slot goes to the next waiter.
        phase = Phase::Done;
        --state->borrowed;
        state->grantLocked(passedOn);
        state->changedLocked();
    } else {
        phase = Phase::Held;
    }
}

void LimiterTicket::arrived(ReadyNode *node) noexcept
{
    auto *ticket = static_cast<LimiterTicket *>(node);
    const bool ownerGone = ticket->owner == nullptr;
    GrantedTickets passedOn;
    ticket->settleArrival(ownerGone, passedOn);
    if (ownerGone)
        LimiterState::deliver(passedOn); // nothing for a refusal
    else
        ticket->onGranted(ticket->owner); // a refused owner sees Refused and fails
    ticket->deref(); // the delivery's reference
}

void LimiterTicket::orphanInto(GrantedTickets &passedOn) noexcept
{
    // owner is not touched: it belongs to the ended thread (whose teardown may still run).
    settleArrival(true, passedOn);
    deref(); // the delivery's reference
}

void LimiterTicket::orphaned(ReadyNode *node) noexcept
{
    GrantedTickets passedOn;
    static_cast<LimiterTicket *>(node)->orphanInto(passedOn);
    LimiterState::deliver(passedOn);
}

void detachTicket(LimiterTicket *ticket) noexcept
{
    LimiterState *state = ticket->state.get();
    ticket->owner = nullptr;
    GrantedTickets granted;
    {
        std::lock_guard lock(state->mutex);
        switch (ticket->phase) {
        case LimiterTicket::Phase::Waiting:
            state->waiters.withdraw(ticket);
            ticket->phase = LimiterTicket::Phase::Done;
            state->changedLocked();
            break;
        case LimiterTicket::Phase::Held:
            ticket->phase = LimiterTicket::Phase::Done;
            --state->borrowed;
            state->grantLocked(granted);
            state->changedLocked();
            break;
        case LimiterTicket::Phase::Refused:
            ticket->phase = LimiterTicket::Phase::Done;
            break;
        case LimiterTicket::Phase::InFlight: // the arrival gives it back
        case LimiterTicket::Phase::Failed:   // the arrival drops it
        case LimiterTicket::Phase::Idle:
        case LimiterTicket::Phase::Done:
            break;
        }
    }
    LimiterState::deliver(granted);
}

bool enqueueTicket(LimiterTicket *ticket) noexcept
{
    LimiterState *state = ticket->state.get();
    bool now = false;
    {
        std::lock_guard lock(state->mutex);
        if (state->destroyed) {
            ticket->phase = LimiterTicket::Phase::Refused;
            return true;
        }
        if (state->waiters.isEmpty() && state->borrowed < state->capacity) {
            ++state->borrowed;
            ticket->phase = LimiterTicket::Phase::Held;
            now = true;
        } else {
            state->waiters.push(ticket);
            ticket->phase = LimiterTicket::Phase::Waiting;
            ticket->queuedOwner = ticket->owner;
        }
        state->changedLocked();
    }
    return now;
}

// --- spawns drawing from a limiter ------------------------------------------------------------

LimiterTicket *makeRecordTicket(Limiter *limiter, const char *operation)
{
    if (!limiter)
        throw InvalidArgument(QStringLiteral("%1: the limiter is null").arg(QLatin1String(operation)));
    return new LimiterTicket(limiter->d->state);
}

LimiterTicket *makeRecordTicket(const std::shared_ptr<LimiterState> &state)
{
    return new LimiterTicket(state);
}

std::shared_ptr<LimiterState> limiterStateOf(Limiter *limiter) noexcept
{
    return limiter ? limiter->d->state : nullptr;
}

Limiter *liveLimiter(LimiterState *state) noexcept
{
    if (!state)
        return nullptr;
    std::lock_guard lock(state->mutex);
    return state->object;
}

std::optional<QString> destroyedLimiterLabel(LimiterState *state)
{
    if (!state)
        return std::nullopt;
    std::lock_guard lock(state->mutex);
    if (!state->destroyed)
        return std::nullopt;
    return state->labelLocked();
}

namespace {
//! True if every slot of \a state lent out is held by one of \a holders (and at least one is):
//! nobody else can give one back. With the mutex held; fills \a label and \a capacity then.
bool onlyHoldersBorrowLocked(LimiterState *state, const std::vector<LimiterTicket *> &holders, QString *label,
                             int *capacity)
{
    const auto held = std::count_if(holders.begin(), holders.end(), [state](const LimiterTicket *ticket) {
        return ticket->state.get() == state && ticket->phase == LimiterTicket::Phase::Held;
    });
    if (held == 0 || held < state->borrowed)
        return false; // someone else holds a slot and may give it back
    *label = state->labelLocked();
    *capacity = state->capacity;
    return true;
}
} // namespace

bool waitsOnlyForHolders(LimiterTicket *waiting, const std::vector<LimiterTicket *> &holders, QString *label,
                         int *capacity)
{
    LimiterState *state = waiting->state.get();
    std::lock_guard lock(state->mutex);
    return waiting->phase == LimiterTicket::Phase::Waiting && onlyHoldersBorrowLocked(state, holders, label, capacity);
}

bool newRequestWaitsOnlyForHolders(LimiterState *state, const std::vector<LimiterTicket *> &holders, QString *label,
                                   int *capacity)
{
    std::lock_guard lock(state->mutex);
    if (state->destroyed || (state->waiters.isEmpty() && state->borrowed < state->capacity))
        return false; // refused at once, or granted at once: no wait
    return onlyHoldersBorrowLocked(state, holders, label, capacity);
}

std::vector<LimiterTicket *> slotsHeldBy(TaskRecord *caller)
{
    std::vector<LimiterTicket *> held;
    for (TaskRecord *r = caller; r; r = r->scope ? r->scope->parentTask : nullptr) {
        if (r->limiterTicket)
            held.push_back(r->limiterTicket);
    }
    return held;
}

bool isTicketRefused(LimiterTicket *ticket) noexcept
{
    std::lock_guard lock(ticket->state->mutex);
    return ticket->phase == LimiterTicket::Phase::Refused;
}

std::exception_ptr ticketRefusal(LimiterTicket *ticket, const QString &who)
{
    if (!isTicketRefused(ticket))
        return nullptr;
    return std::make_exception_ptr(ticket->state->refusal(who));
}

bool requestRecordSlot(LimiterTicket *ticket, ReadyNode *record) noexcept
{
    // The slot arrives on a later turn of the scope's thread already (from the ready queue or
    // the mail): the record starts right there, as if the ready queue ran it, saving a hop.
    ticket->bindHome(record, [](void *owner) noexcept {
        auto *node = static_cast<ReadyNode *>(owner);
        node->run(node);
    });
    return enqueueTicket(ticket);
}

bool isTicketWaiting(const LimiterTicket *ticket) noexcept
{
    std::lock_guard lock(ticket->state->mutex);
    return ticket->phase == LimiterTicket::Phase::Waiting || ticket->phase == LimiterTicket::Phase::InFlight
        || ticket->phase == LimiterTicket::Phase::Failed;
}

void releaseTicket(LimiterTicket *ticket) noexcept
{
    detachTicket(ticket);
    ticket->deref();
}

} // namespace detail

void detail::LimiterState::changedLocked() noexcept
{
    // Always posted, even on the limiter's own thread: changes happen inside acquires, releases
    // and task completions, where no user slot may run. One posted call covers any number of
    // changes until it runs. Posted under the mutex, so ~Limiter cannot run meanwhile.
    if (!object || notifyPosted)
        return;
    notifyPosted = true;
    QMetaObject::invokeMethod(object, [q = object] { q->emitChanges(); }, Qt::QueuedConnection);
}

} // namespace QAyo
