// SPDX-License-Identifier: MIT
// QAyo::Limiter: the QObject (capacity, counts and their NOTIFY signals), co_await acquire() and
// the token that holds a slot. The shared state and its tickets: limiterstate.cpp.
#include <QAyo/limiter.h>
#include <QAyo/signal.h>

#include "limiterstate_p.h"
#include "scope_p.h"

#include <QPointer>

#include <algorithm>

namespace QAyo {

namespace detail {

// --- co_await limiter.acquire() ----------------------------------------------------------------

AcquireAwaiter::AcquireAwaiter(std::shared_ptr<LimiterState> state) noexcept : m_state(std::move(state)) {}

AcquireAwaiter::AcquireAwaiter(AcquireAwaiter &&other) noexcept
    : WakeableAwaiter(std::move(other)), m_state(std::move(other.m_state)),
      m_ticket(std::exchange(other.m_ticket, nullptr)), m_holder(other.m_holder), m_grantedAtOnce(std::exchange(other.m_grantedAtOnce, false))
{
}

AcquireAwaiter::~AcquireAwaiter()
{
    if (m_ticket)
        releaseTicket(m_ticket); // a slot granted and never handed out goes back here
    else if (m_grantedAtOnce)
        m_state->release();
}

bool AcquireAwaiter::await_ready()
{
    m_grantedAtOnce = m_state->tryTake(); // the common, uncontended case: no ticket, no suspension
    if (!m_grantedAtOnce && m_holder)
        checkCanProgress();
    return m_grantedAtOnce;
}

void AcquireAwaiter::checkCanProgress() const
{
    // The rule of start() (docs/limits.md): refuse only a wait nobody could end, i.e. every slot
    // lent out is held by the awaiting task or a task it is nested in. Checked before the
    // request joins the line, so a refused one never shows in waitingCount().
    const std::vector<LimiterTicket *> held = slotsHeldBy(m_holder);
    QString limiter;
    int capacity = 0;
    if (!held.empty() && newRequestWaitsOnlyForHolders(m_state.get(), held, &limiter, &capacity)) {
        throw InvalidStateError(
            QStringLiteral("acquire: would wait forever: task '%1' (or a task it is nested in) holds every slot of %2 "
                           "(capacity %3) through its scope and waits for one more. Acquire from a task that holds "
                           "no slot, or raise the capacity first")
                .arg(m_holder->displayName(), limiter)
                .arg(capacity));
    }
}

bool AcquireAwaiter::await_suspend(std::coroutine_handle<> h)
{
    m_waiting = h;
    auto *ticket = new LimiterTicket(m_state);
    ticket->bindHome(this, &AcquireAwaiter::granted);
    m_ticket = ticket;
    if (enqueueTicket(ticket)) {
        // A slot came free since await_ready() (or the limiter is gone): no suspension.
        if (ticket->phase == LimiterTicket::Phase::Held) {
            m_ticket = nullptr;
            ticket->deref();
            m_grantedAtOnce = true;
        }
        return false; // a Refused ticket stays: await_resume() throws
    }
    return true;
}

void AcquireAwaiter::granted(void *self) noexcept
{
    static_cast<AcquireAwaiter *>(self)->m_waiting.resume();
}

LimiterToken AcquireAwaiter::await_resume()
{
    if (m_grantedAtOnce) {
        m_grantedAtOnce = false;
        return LimiterToken(m_state);
    }
    bool held = false;
    bool refused = false;
    {
        std::lock_guard lock(m_state->mutex);
        if (m_ticket->phase == LimiterTicket::Phase::Held) {
            m_ticket->phase = LimiterTicket::Phase::Done; // the token owns the slot now
            held = true;
        } else if (m_ticket->phase == LimiterTicket::Phase::Refused) {
            refused = true;
        }
    }
    if (refused)
        throw m_state->refusal(QStringLiteral("acquire"));
    if (!held)
        throw Cancelled{}; // woken by a cancel (the checkpoint normally throws first)
    return LimiterToken(m_state);
}

void AcquireAwaiter::cancelRequested() noexcept
{
    if (!m_ticket)
        return;
    bool withdrawn = false;
    {
        std::lock_guard lock(m_state->mutex);
        if (m_ticket->phase == LimiterTicket::Phase::Waiting) {
            m_state->waiters.withdraw(m_ticket);
            m_ticket->phase = LimiterTicket::Phase::Done;
            withdrawn = true;
        }
        // InFlight: the slot arrives soon and resumes the task, whose checkpoint throws
        // Cancelled; the destructor then passes the slot on.
    }
    if (withdrawn) {
        m_state->changed();
        wake();
    }
}

} // namespace detail

// --- LimiterToken -------------------------------------------------------------------------------

LimiterToken::LimiterToken() noexcept = default;
LimiterToken::LimiterToken(std::shared_ptr<detail::LimiterState> state) noexcept : m_state(std::move(state)) {}
LimiterToken::LimiterToken(LimiterToken &&other) noexcept : m_state(std::move(other.m_state)) {}

LimiterToken &LimiterToken::operator=(LimiterToken &&other) noexcept
{
    if (this != &other) {
        release();
        m_state = std::move(other.m_state);
    }
    return *this;
}

LimiterToken::~LimiterToken()
{
    release();
}

void LimiterToken::release() noexcept
{
    if (auto state = std::move(m_state))
        state->release();
}

// --- Limiter ------------------------------------------------------------------------------------

namespace {
void checkCapacity(int capacity)
{
    if (capacity < 1)
        throw InvalidArgument(QStringLiteral("Limiter: capacity must be >= 1, got %1").arg(capacity));
}
} // namespace

Limiter::Limiter(int capacity, QObject *parent) : QObject(parent), d(new Private)
{
    checkCapacity(capacity);
    d->state = std::make_shared<detail::LimiterState>(capacity);
    d->state->object = this;
    d->capacity = capacity;
    d->available = capacity;
}

Limiter::~Limiter()
{
    // Every waiting request fails (it travels home as a refusal); held slots stay held.
    detail::GrantedTickets refused;
    {
        std::lock_guard lock(d->state->mutex);
        d->state->object = nullptr;
        d->state->destroyed = true;
        d->state->name = objectName();
        d->state->waiters.forEach([&refused](detail::LimiterTicket *ticket) {
            ticket->phase = detail::LimiterTicket::Phase::Failed;
            ticket->ref(); // the delivery's reference
            refused.push_back(ticket);
        });
        d->state->waiters.clear();
    }
    detail::LimiterState::deliver(refused);
}

int Limiter::capacity() const
{
    std::lock_guard lock(d->state->mutex);
    return d->state->capacity;
}

void Limiter::setCapacity(int capacity)
{
    checkCapacity(capacity);
    detail::GrantedTickets granted;
    {
        std::lock_guard lock(d->state->mutex);
        d->state->capacity = capacity;
        d->state->grantLocked(granted);
    }
    detail::LimiterState::deliver(granted);
    d->state->changed();
}

int Limiter::borrowed() const
{
    std::lock_guard lock(d->state->mutex);
    return d->state->borrowed;
}

int Limiter::available() const
{
    std::lock_guard lock(d->state->mutex);
    return std::max(0, d->state->capacity - d->state->borrowed);
}

int Limiter::waitingCount() const
{
    std::lock_guard lock(d->state->mutex);
    return int(d->state->waiters.count());
}

detail::AcquireAwaiter Limiter::acquire()
{
    return detail::AcquireAwaiter(d->state);
}

LimiterToken Limiter::tryAcquire()
{
    return d->state->tryTake() ? LimiterToken(d->state) : LimiterToken();
}

void Limiter::emitChanges()
{
    int capacity, borrowed, waiting;
    {
        std::lock_guard lock(d->state->mutex);
        d->state->notifyPosted = false;
        capacity = d->state->capacity;
        borrowed = d->state->borrowed;
        waiting = int(d->state->waiters.count());
    }
    const int available = std::max(0, capacity - borrowed);
    QPointer<Limiter> self(this); // a slot may delete the limiter
    if (std::exchange(d->capacity, capacity) != capacity)
        Q_EMIT capacityChanged();
    if (self && std::exchange(d->borrowed, borrowed) != borrowed)
        Q_EMIT borrowedChanged();
    if (self && std::exchange(d->available, available) != available)
        Q_EMIT availableChanged();
    if (self && std::exchange(d->waiting, waiting) != waiting)
        Q_EMIT waitingChanged();
}

} // namespace QAyo
