// SPDX-License-Identifier: MIT
#pragma once

// The inside of QAyo::Limiter: the shared state and the tickets that carry a granted slot to the
// thread that asked for it (limiterstate.cpp); the QObject, the acquire awaiter and the token are
// in limiter.cpp.
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

#include "limiter_p.h"
#include "mailbox_p.h"
#include "threadcontext_p.h"
#include "withdrawablequeue_p.h"

#include <QMetaObject>
#include <QVarLengthArray>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

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

//! The owner loses interest (on the home thread): withdraws the request or gives the slot back.
void detachTicket(LimiterTicket *ticket) noexcept;
//! Queues \a ticket or, if a slot is free and nobody waits, grants it at once (returns true).
//! A destroyed limiter refuses it at once (returns true, the phase is Refused).
bool enqueueTicket(LimiterTicket *ticket) noexcept;

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

} // namespace QAyo
