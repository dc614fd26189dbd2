// SPDX-License-Identifier: MIT
// QAyo::Limiter: the shared state, the tickets that carry a granted slot to the thread that
// asked for it, the acquire awaiter and the token.
//
// The model. LimiterState holds the capacity, the number of borrowed slots and a FIFO of
// tickets, all under one mutex (any thread may acquire or release). A ticket is one request
// for a slot; it belongs to the thread that asked (its "home") and is refcounted, because a
// granted slot may be on its way to that thread while the asker loses interest:
//
//   Idle -> Waiting (queued) -> InFlight (granted, travelling home) -> Held -> Done
//                  \-> Failed (refused, travelling home) -> Refused -> Done
//
// Refused: the Limiter object was destroyed before it granted the slot. ~Limiter fails every
// waiting request (they travel home as Failed, like a grant but without a slot), and a request
// made afterwards is Refused at once; the owner turns that into an InvalidStateError naming the
// limiter. Slots held then stay held until released; a release then simply gives the slot back
// to a state nobody draws from any more.
//
// Only the home thread moves a ticket out of Waiting or InFlight by itself (a cancel withdraws
// a waiting request; an arrival turns InFlight into Held); other threads only grant (Waiting ->
// InFlight). A slot that arrives for an owner that has gone is given back at once, so no slot
// is ever lost to a cancelled or destroyed waiter - nor to a waiter whose thread has ended: a
// ticket granted to a dead thread, or still on its way when the thread ends, is "orphaned"
// (LimiterTicket::orphaned) and gives its slot back on the thread that finds out.
#include <QAyo/limiter.h>
#include <QAyo/detail/taskmemory.h>
#include <QAyo/signal.h>

#include "limiter_p.h"
#include "mailbox_p.h"
#include "scope_p.h"
#include "threadcontext_p.h"
#include "withdrawablequeue_p.h"

#include <QMetaObject>
#include <QPointer>
#include <QVarLengthArray>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

namespace QAyo {

namespace detail {

class LimiterTicket;
//! The tickets one release or grant sends home: usually one, so no heap allocation.
using GrantedTickets = QVarLengthArray<LimiterTicket *, 8>;

class LimiterTicket final : public ReadyNode
{
public:
    enum class Phase : quint8 { Idle, Waiting, InFlight, Held, Failed, Refused, Done };
    using GrantedFunction = void (*)(void *owner) noexcept;

    explicit LimiterTicket(std::shared_ptr<LimiterState> state) noexcept
        : ReadyNode(&LimiterTicket::arrived), state(std::move(state))
    {
    }

    // A scope drawing from a limiter makes one ticket per task: a burst of a million spawns has
    // a million alive at once, which glibc serves from its slow paths (malloc_consolidate). They
    // come from the task memory cache, like the records they belong to (detail/taskmemory.h).
    static void *operator new(std::size_t size) { return allocateTaskMemory(size); }
    static void operator delete(void *ticket, std::size_t size) noexcept { freeTaskMemory(ticket, size); }

    void ref() noexcept { m_refs.fetch_add(1, std::memory_order_relaxed); }
    void deref() noexcept
    {
        // A count of 1 is the caller's own reference: only a ticket in the waiters' queue gets
        // new references (a grant or a refusal, under the mutex), and a ticket with one holder
        // left is no longer queued. So the last deref needs no read-modify-write (the acquire
        // load pairs with the other holders' releasing decrements), as TaskRecord::deref().
        if (m_refs.load(std::memory_order_acquire) == 1 || m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
            delete this;
    }

    //! Binds the ticket to the calling thread: the slot is delivered here.
    void bindHome(void *ownerObject, GrantedFunction grantedFunction)
    {
        homeId = ThreadContext::current()->homeId();
        owner = ownerObject;
        onGranted = grantedFunction;
    }

    //! The ticket reached its home thread (run by the ready queue or the mail there).
    static void arrived(ReadyNode *node) noexcept;
    //! The home thread ended before the ticket arrived: nobody there can take or withdraw it, so
    //! it arrives as if its owner had let go (a granted slot goes to the next waiter).
    static void orphaned(ReadyNode *node) noexcept;
    //! orphaned(), but the tickets granted meanwhile go to \a passedOn (see deliver()).
    void orphanInto(GrantedTickets &passedOn) noexcept;
    //! The arrival's step under the limiter's mutex: Held, Refused or, if \a ownerGone, Done
    //! with the slot passed on (the tickets granted go to \a passedOn).
    void settleArrival(bool ownerGone, GrantedTickets &passedOn) noexcept;

    std::shared_ptr<LimiterState> state;
    void *queuedOwner = nullptr; // the owner, for prefetching only (under state->mutex)
    quint32 queuePosition = 0; // while Waiting: its place in state->waiters (withdrawablequeue_p.h)
    // The home context's homeId() (the mailbox's address); unlike a thread id, not reused.
    std::uint32_t homeId = 0;
    Phase phase = Phase::Idle; // under state->mutex
    // Home thread only:
    void *owner = nullptr;
    GrantedFunction onGranted = nullptr;

private:
    std::atomic<int> m_refs{1}; // the owner's reference
};


class LimiterState
{
public:
    explicit LimiterState(int capacity) : capacity(capacity) {}

    //! Grants free slots to the waiters, FIFO; the tickets go to \a out (deliver them unlocked).
    void grantLocked(GrantedTickets &out)
    {
        while (!waiters.isEmpty() && borrowed < capacity) {
            LimiterTicket *ticket = waiters.pop();
            prefetchWaiters();
            ticket->phase = LimiterTicket::Phase::InFlight;
            ++borrowed;
            ticket->ref(); // the delivery's reference
            out.push_back(ticket);
        }
    }

    //! Starts loading the waiters granted soon into the cache: a ticket queued behind many
    //! others, and the record it starts, were written long ago and are in DRAM by now. The
    //! owner is fetched later than its ticket, whose load it needs. A prefetch never faults.
    //! Always inline: GCC takes a function that only prefetches for pure and drops its calls.
    Q_ALWAYS_INLINE void prefetchWaiters() const noexcept
    {
        constexpr std::size_t ticketDistance = 16;
        constexpr std::size_t ownerDistance = 8;
        if (const LimiterTicket *next = waiters.peek(ticketDistance)) {
            const char *ticket = reinterpret_cast<const char *>(next);
            __builtin_prefetch(ticket);
            __builtin_prefetch(ticket + 64);
        }
        if (const LimiterTicket *next = waiters.peek(ownerDistance)) {
            const char *owner = static_cast<const char *>(next->queuedOwner);
            __builtin_prefetch(owner);
            __builtin_prefetch(owner + 64);
            __builtin_prefetch(owner + 128);
            __builtin_prefetch(owner + 192);
        }
    }

    //! Sends granted tickets home: the ready queue here, mail to another thread. A ticket whose
    //! thread has ended passes its slot on at once; the tickets that grants go to the end of
    //! \a granted and are sent in the same loop (no recursion, however many dead waiters).
    static void deliver(GrantedTickets &granted) noexcept
    {
        const ThreadContext *context = ThreadContext::currentIfAny();
        // A dying context (its thread ends) runs nothing posted to it any more.
        const std::uint32_t here = context && !context->isDying() ? context->homeId() : 0;
        for (qsizetype i = 0; i < granted.size(); ++i) {
            LimiterTicket *ticket = granted[i];
            if (ticket->homeId == here)
                postReady(ticket);
            else if (!post(MailAddress::context(ticket->homeId), ticket, &LimiterTicket::orphaned))
                ticket->orphanInto(granted); // its thread has ended: orphaned(), as a loop
        }
    }

    //! Gives one slot back (the caller holds it) and passes it on.
    void release() noexcept
    {
        GrantedTickets granted;
        {
            std::lock_guard lock(mutex);
            --borrowed;
            grantLocked(granted);
            changedLocked();
        }
        deliver(granted);
    }

    //! Takes a slot if one is free and nobody waits (FIFO: no overtaking).
    bool tryTake() noexcept
    {
        {
            std::lock_guard lock(mutex);
            if (destroyed || !waiters.isEmpty() || borrowed >= capacity)
                return false;
            ++borrowed;
            changedLocked();
        }
        return true;
    }

    //! Makes the Limiter object emit its NOTIFY signals (on its own thread).
    void changed() noexcept
    {
        std::lock_guard lock(mutex);
        changedLocked();
    }
    //! changed() with the mutex held: the change and its notification in one lock.
    void changedLocked() noexcept;

    //! "limiter 'name'" for messages (its object name, or the one it had; "(unnamed)" without).
    QString labelLocked() const
    {
        const QString current = object ? object->objectName() : name;
        return current.isEmpty() ? QStringLiteral("limiter (unnamed)") : QStringLiteral("limiter '%1'").arg(current);
    }
    //! The error of a request the destroyed limiter refused; \a who names the requester.
    InvalidStateError refusal(const QString &who)
    {
        std::lock_guard lock(mutex);
        return InvalidStateError(QStringLiteral("%1: %2 was destroyed before it granted a slot").arg(who, labelLocked()));
    }

    std::mutex mutex;
    int capacity;
    int borrowed = 0;
    // The waiting tickets, FIFO; a cancelled one leaves in O(1).
    WithdrawableQueue<LimiterTicket, quint32, &LimiterTicket::queuePosition> waiters;
    Limiter *object = nullptr; // null once the Limiter object is gone
    bool destroyed = false;    // ~Limiter ran: no more grants (see the file comment)
    QString name;              // the object name, for messages (kept past ~Limiter)
    bool notifyPosted = false;
};

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

//! The owner loses interest (on the home thread): withdraws the request or gives the slot back.
static void detachTicket(LimiterTicket *ticket) noexcept
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

//! Queues \a ticket or, if a slot is free and nobody waits, grants it at once (returns true).
//! A destroyed limiter refuses it at once (returns true, the phase is Refused).
static bool enqueueTicket(LimiterTicket *ticket) noexcept
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

} // namespace detail

struct Limiter::Private
{
    std::shared_ptr<detail::LimiterState> state;
    // What the NOTIFY signals last told (the limiter's thread only).
    int capacity = 0;
    int borrowed = 0;
    int available = 0;
    int waiting = 0;
};

namespace detail {

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
