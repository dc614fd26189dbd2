// SPDX-License-Identifier: MIT
#pragma once

// QAyo::Limiter: a capacity limiter several scopes, tasks and aside functions share (Trio's
// CapacityLimiter). docs/limits.md has the rules; the machinery lives in src/core/limiter.cpp.

#include <QAyo/detail/wakeable.h>
#include <QAyo/errors.h>

#include <QObject>
#include <QScopedPointer>

#include <coroutine>
#include <memory>

namespace QAyo {

class Limiter;

namespace detail {

//! The shared state of a Limiter (capacity, borrowed slots, the FIFO of waiters). Outlives the
//! Limiter object while tokens or waiters still refer to it.
class LimiterState;

//! One request for a slot, delivered on the thread that asked (see src/core/limiter.cpp).
class LimiterTicket;

//! A slot request for \a record (a spawn drawing from \a limiter): made on the spawning thread,
//! bound to the scope's thread when the record is queued. Throws InvalidArgument if \a limiter
//! is null (\a operation names the call).
QAYO_CORE_EXPORT LimiterTicket *makeRecordTicket(Limiter *limiter, const char *operation);
//! Asks for the slot of \a record: true if it was granted at once; otherwise the record is
//! posted to the ready queue when the slot arrives. On the scope's thread.
QAYO_CORE_EXPORT bool requestRecordSlot(LimiterTicket *ticket, ReadyNode *record) noexcept;
//! True while the request waits for its slot (asked and not yet arrived).
QAYO_CORE_EXPORT bool isTicketWaiting(const LimiterTicket *ticket) noexcept;
//! Gives the slot back (or withdraws the request) and drops the ticket: the record ended.
QAYO_CORE_EXPORT void releaseTicket(LimiterTicket *ticket) noexcept;
//! The shared state of \a limiter (null for null); what a scope keeps (src/core/limiter_p.h).
std::shared_ptr<LimiterState> limiterStateOf(Limiter *limiter) noexcept;

} // namespace detail

//! A slot borrowed from a Limiter: move-only, gives the slot back when destroyed (RAII).
/*!
 * \code
 * QAyo::LimiterToken token = co_await limiter.acquire();
 * co_await download(url);   // at most capacity() of these run at once
 * \endcode                  // the slot goes back here (or with token.release())
 *
 * Thread rules: a token may be moved to, released on, or destroyed on any thread.
 */
class QAYO_CORE_EXPORT LimiterToken
{
public:
    //! A token that holds no slot.
    LimiterToken() noexcept;
    //! Takes over the slot of \a other, which then holds none.
    LimiterToken(LimiterToken &&other) noexcept;
    //! Gives back the current slot (if any) and takes over the one of \a other.
    LimiterToken &operator=(LimiterToken &&other) noexcept;
    LimiterToken(const LimiterToken &) = delete;
    LimiterToken &operator=(const LimiterToken &) = delete;
    //! Gives the slot back (see release()).
    ~LimiterToken();

    //! True while the token holds a slot.
    bool isHeld() const noexcept { return bool(m_state); }
    //! Gives the slot back now; the first waiter (FIFO) gets it. Harmless when none is held.
    void release() noexcept;

    //! Internal: a token for a slot of \a state that was just granted.
    explicit LimiterToken(std::shared_ptr<detail::LimiterState> state) noexcept;

private:
    std::shared_ptr<detail::LimiterState> m_state;
};

namespace detail {

//! co_await limiter.acquire(): waits (FIFO) for a slot; cancellation-aware.
/*!
 * A cancel while waiting leaves the queue at once. A slot granted just as the task was
 * cancelled is not lost: the awaiter gives it back (to the next waiter) when it is destroyed
 * without handing it out.
 */
class QAYO_CORE_EXPORT AcquireAwaiter final : public WakeableAwaiter
{
public:
    explicit AcquireAwaiter(std::shared_ptr<LimiterState> state) noexcept;
    AcquireAwaiter(AcquireAwaiter &&other) noexcept;
    ~AcquireAwaiter();

    //! Takes a free slot at once; inside a task, throws InvalidStateError when no slot is free
    //! and only the task (or a task it is nested in) holds them all (docs/limits.md).
    bool await_ready();
    bool await_suspend(std::coroutine_handle<> h);
    LimiterToken await_resume();
    void cancelRequested() noexcept override;
    //! Learns the awaiting task (see AwareCheckpoint), for the check in await_ready().
    void qayoBind(TaskRecord *holder) noexcept { m_holder = holder; }

private:
    static void granted(void *self) noexcept;
    //! Throws InvalidStateError if only m_holder's chain holds the slots this waits for.
    Q_DECL_COLD_FUNCTION void checkCanProgress() const;
    std::shared_ptr<LimiterState> m_state;
    LimiterTicket *m_ticket = nullptr;
    TaskRecord *m_holder = nullptr; // the awaiting QAyo::Task, if any
    bool m_grantedAtOnce = false;
};

} // namespace detail

//! A capacity limiter shared by scopes, tasks and aside work (Trio's CapacityLimiter).
/*!
 * \code
 * QAyo::Limiter downloads(3);                    // at most 3 at once, over every scope
 * QAyo::Scope a({.limiter = &downloads}), b({.limiter = &downloads});
 * a << fetch(url1) << fetch(url2);               // each task takes a slot before it starts
 * b.asap(&downloads, fetch, url3);               // a per-spawn limiter
 * co_await b.aside(&downloads, hashFile, path);  // aside functions too
 * auto token = co_await downloads.acquire();     // or by hand, RAII
 * \endcode
 *
 * Slots are granted in FIFO order (fair). setCapacity() works at run time: raising it grants
 * slots to waiters at once (FIFO), lowering it below borrowed() only stops new grants until
 * enough slots come back.
 *
 * Thread rules: every member is thread-safe; tasks and aside functions on any thread may share
 * one limiter. A slot is always delivered on the thread that asked for it. The getters are
 * always current; the NOTIFY signals are emitted on the limiter's own thread (QObject affinity)
 * on a later event-loop turn, one batch for any number of changes (never inside an acquire, a
 * release or a task's completion).
 *
 * Lifetime: destroying the limiter while it is in use is defined (docs/limits.md). Requests
 * still waiting for a slot fail with InvalidStateError naming the limiter (its objectName()):
 * acquire() throws it, a waiting spawn or aside function fails unstarted (an error of its
 * scope). A scope given the limiter in ScopeOptions then refuses new work that would draw from
 * it (InvalidStateError at the spawn) and its limiter() is null. Slots held (tokens, running
 * tasks) stay held until given back; giving one back afterwards is harmless and does nothing.
 */
class QAYO_CORE_EXPORT Limiter : public QObject
{
    Q_OBJECT
    //! How many slots exist (>= 1).
    Q_PROPERTY(int capacity READ capacity WRITE setCapacity NOTIFY capacityChanged)
    //! How many slots are lent out right now.
    Q_PROPERTY(int borrowed READ borrowed NOTIFY borrowedChanged)
    //! capacity() - borrowed(), never below 0.
    Q_PROPERTY(int available READ available NOTIFY availableChanged)
    //! How many requests wait for a slot.
    Q_PROPERTY(int waiting READ waitingCount NOTIFY waitingChanged)

public:
    //! A limiter with \a capacity slots; throws InvalidArgument if \a capacity is below 1.
    explicit Limiter(int capacity, QObject *parent = nullptr);
    //! Fails the requests still waiting for a slot (InvalidStateError naming the limiter);
    //! slots held stay valid until given back (see the class comment).
    ~Limiter() override;

    //! How many slots exist.
    int capacity() const;
    //! Changes the capacity at run time (see the class comment); throws InvalidArgument if
    //! \a capacity is below 1.
    void setCapacity(int capacity);
    //! How many slots are lent out (by tokens and running spawns).
    int borrowed() const;
    //! capacity() - borrowed(), never below 0 (it can be, for a while, after setCapacity()).
    int available() const;
    //! How many requests (acquires and spawns) wait for a slot.
    int waitingCount() const;

    //! `co_await limiter.acquire()`: a LimiterToken once a slot is free (FIFO).
    /*!
     * Cancellation-aware inside a QAyo::Task: a cancel while waiting throws Cancelled and
     * leaves the queue. Awaited outside a task it simply waits. Inside a task, the co_await
     * throws InvalidStateError naming the limiter when it could never get a slot: none is free
     * and every slot lent out is held by the task itself or a task it is nested in, through
     * their scopes' limiter (e.g. capacity 1 and {.limiter = this}). Slots held by tokens are
     * not attributed to a task: such a request waits (docs/limits.md).
     */
    detail::AcquireAwaiter acquire();
    //! A slot now if one is free and nobody waits; otherwise a token that holds none.
    LimiterToken tryAcquire();

Q_SIGNALS:
    //! capacity() changed.
    void capacityChanged();
    //! borrowed() changed.
    void borrowedChanged();
    //! available() changed.
    void availableChanged();
    //! waitingCount() changed.
    void waitingChanged();

private:
    friend class detail::LimiterState;
    friend detail::LimiterTicket *detail::makeRecordTicket(Limiter *, const char *);
    friend std::shared_ptr<detail::LimiterState> detail::limiterStateOf(Limiter *) noexcept;
    void emitChanges();
    struct Private;
    QScopedPointer<Private> d;
};

} // namespace QAyo
