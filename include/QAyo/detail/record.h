// SPDX-License-Identifier: MIT
#pragma once

// TaskRecord: the unit of work a scope owns (Kotlin's Job, Trio's task). One record per spawn.
//
// A record exists before its coroutine frame (lazy spawning keeps only the callable and its
// arguments until a concurrency slot is free), outlives it (a Handle reads the result after the
// frame is gone), and is the unit of cancellation: every frame that runs on behalf of the
// record - the root frame and every QAyo::Task it awaits inline - checks `cancelRequested` at
// its checkpoints and publishes the awaiter it is suspended on as `hook`, so a cancel can wake
// it at once.
//
// Threading: a record is created on any thread but lives on its scope's thread; only the
// reference count, the stage (Handle::isFinished() reads Done anywhere) and the home are atomic.
//
// Its life is one explicit stage. Only the scope's thread changes it (the one store per step is
// relaxed, except Done: a release that publishes the outcome to acquiring readers elsewhere):
//
//   stage              where the record is                      counted in (its scope)     leaves by
//   ----------------   --------------------------------------   ------------------------   -----------------------------
//   InTransit          a SpawnLetter in the mail, or not yet     m_incoming (mail)          enqueue(), or settled
//                      enqueued (made on the scope's thread)
//   WaitingForSlot     the scope's m_waitingForSlot queue        m_pending                  pumpQueue() -> admit()
//   WaitingForLimiter  its LimiterTicket waits (or the grant     m_pending, m_inFlight      the grant runs runStart()
//                      travels to this thread)
//   Ready              the thread's ready queue (ReadyNode)      m_pending, m_inFlight      runStart()
//   Running            its frame lives (or start() runs)         m_running, m_inFlight      complete()
//   Done               nowhere (outcome set, waiters woken)      -                          the last deref()
//
// m_inFlight counts only `counted` records (Scope::SpawnKind::Normal). Every stage before Running
// is "unstarted": ScopePrivate::withdraw() takes such a record out of the queue its stage names,
// so a cancel never has to guess where it is.

#include <QAyo/detail/scheduling.h>
#include <QAyo/detail/taskmemory.h>
#include <QAyo/errors.h>

#include <QString>
#include <QVariant>

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <type_traits>

namespace QAyo {
class Scope;
}

namespace QAyo::detail {

class ScopePrivate;
class LimiterTicket; // limiter.h: the slot a spawn drawing from a Limiter asks for

//! Tasks (records) created and not yet ended, over all threads (for QAyo::Test).
QAYO_CORE_EXPORT int unfinishedTaskCount() noexcept;

//! An awaiter that can be woken early when the task suspended on it is cancelled.
struct QAYO_CORE_EXPORT CancelHook
{
    //! Called on the task's thread while the task is suspended on this awaiter. Must not run
    //! user code and must be idempotent (cancellation is level-triggered and may repeat).
    virtual void cancelRequested() noexcept = 0;
    //! Called before cancelRequested() on every hook of a scope tree being cancelled: work that
    //! has not started yet (aside work waiting for a pool thread) is taken back here, before
    //! any running work is told to stop and frees a thread that could start it. Idempotent.
    virtual void dropIfUnstarted() noexcept {}

protected:
    ~CancelHook() = default;
};

//! Something waiting for a record to complete (the awaiters of a Handle).
struct QAYO_CORE_EXPORT CompletionWaiter
{
    //! Called on the record's thread when the record completed; must not run user code.
    virtual void recordCompleted() noexcept = 0;

    CompletionWaiter *prevWaiter = nullptr;
    CompletionWaiter *nextWaiter = nullptr;
    bool isWaiting = false;

protected:
    ~CompletionWaiter() = default;
};

//! See the file comment.
class QAYO_CORE_EXPORT TaskRecord : public ReadyNode
{
public:
    //! See the table in the file comment.
    enum class Stage : quint8 { InTransit, WaitingForSlot, WaitingForLimiter, Ready, Running, Done };
    enum class Outcome : quint8 { Pending, Succeeded, Failed, Cancelled };

    TaskRecord() noexcept;
    TaskRecord(const TaskRecord &) = delete;
    TaskRecord &operator=(const TaskRecord &) = delete;
    virtual ~TaskRecord();

    // Records come from the per-thread task memory cache (see detail/taskmemory.h). The
    // destructor is virtual, so the sized delete receives the size of the most derived record.
    static void *operator new(std::size_t size) { return allocateTaskMemory(size); }
    static void operator delete(void *record, std::size_t size) noexcept { freeTaskMemory(record, size); }
    // Over-aligned records (a result type with alignas > 16) bypass the cache.
    static void *operator new(std::size_t size, std::align_val_t align) { return ::operator new(size, align); }
    static void operator delete(void *record, std::size_t size, std::align_val_t align) noexcept
    {
        ::operator delete(record, size, align);
    }

    void ref() noexcept { m_refs.fetch_add(1, std::memory_order_relaxed); }
    //! ref() of a record no other thread can see yet (just made): no atomic read-modify-write.
    void refUnshared() noexcept { m_refs.store(m_refs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
    void deref() noexcept
    {
        // acq_rel: the thread that frees the record must see every write made before the other
        // references were dropped. A count of 1 is the caller's own reference: nobody else can
        // change it any more, so the last deref needs no read-modify-write (the acquire load
        // pairs with the other holders' releasing decrements).
        if (m_refs.load(std::memory_order_acquire) == 1 || m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
            delete this;
    }

    //! True if the task's checkpoints must throw Cancelled now (cancelled and not shielded).
    bool isCancelled() const noexcept { return cancelRequested && shieldDepth == 0; }
    //! Throws Cancelled from a checkpoint; warns once if the task swallowed an earlier one.
    //! Inline on purpose: a throw that starts in the caller's frame unwinds faster.
    [[noreturn]] void throwCancelled()
    {
        if (cancelDeliveries < 2 && ++cancelDeliveries == 2)
            warnCancelSwallowed();
        throw Cancelled{};
    }
    //! The diagnostic of throwCancelled() (qayo.cancel).
    void warnCancelSwallowed() const;

    //! Cancels this task (and the scopes created inside it); wakes it if it is suspended on a
    //! cancellation-aware await. Level-triggered: stays cancelled until the task ends. From
    //! another thread than the task's, the cancel is posted there and takes effect soon after.
    void requestCancel() noexcept;
    //! True if the calling thread is the one the task lives on (its scope's, once it got there).
    bool isOnHomeThread() const noexcept;

    //! The root frame reached its final suspend point: destroys the frame, records the outcome.
    void rootFinished(std::exception_ptr error) noexcept;
    //! Completes a record that ran without a frame (plain callables) or failed to create one.
    void complete(std::exception_ptr error) noexcept;
    //! Marks the record done with \a outcome, releases its work and wakes its waiters; does not
    //! tell the scope (the caller does). Runs user code (the callable's destructor): never call it
    //! inside a walk over shared state; a walk calls markDone() and releases the work later.
    void settle(Outcome outcome, std::exception_ptr error = {}) noexcept;
    //! The state change of settle(): stage Done with \a outcome, the limiter slot given back,
    //! the waiters woken. Runs no user code; the work is still to be released (releaseWork()).
    void markDone(Outcome outcome, std::exception_ptr error = {}) noexcept;
    //! True once the record is Done (any thread: pairs with markDone()'s release).
    bool isDone() const noexcept { return stage.load(std::memory_order_acquire) == Stage::Done; }
    //! True before the record started (its stage is one of the queues of the table above).
    bool isUnstarted() const noexcept { return stage.load(std::memory_order_relaxed) < Stage::Running; }

    //! Runs the task's first step; frames are created here for lazy spawns.
    virtual void start() = 0;
    //! Releases the callable, its arguments or the unstarted frame (queued work dropped, or
    //! the task finished and its callable is no longer referenced by a frame).
    virtual void releaseWork() noexcept = 0;
    //! The result as a QVariant for Scope::results() (invalid for void or non-copyable types).
    virtual QVariant resultAsVariant() const { return {}; }

    void addWaiter(CompletionWaiter *waiter) noexcept;
    void removeWaiter(CompletionWaiter *waiter) noexcept;

    //! A name for logs and dumps: the one set with Handle::setName(), else "task#<sequence>".
    QString displayName() const;

    // --- state, shared with ScopePrivate and the awaiters -------------------------------------
    // (the ReadyNode base is the "start me" entry of the ready queue)
    TaskRecord *prevInScope = nullptr;
    TaskRecord *nextInScope = nullptr;
    ScopePrivate *scope = nullptr;       // null once the scope is gone (orphaned record)
    std::atomic<Scope *> homeScope{nullptr}; // the target scope, readable from any thread
    std::coroutine_handle<> frame;       // root frame while running
    CancelHook *hook = nullptr;          // the cancellation-aware awaiter it is suspended on
    ScopePrivate *firstChildScope = nullptr; // scopes created inside this task (intrusive list)
    CompletionWaiter *firstWaiter = nullptr;
    std::exception_ptr error;
    QString name;
    quint64 sequence = 0;
    std::atomic<Stage> stage{Stage::InTransit};
    Outcome outcome = Outcome::Pending;
    bool cancelRequested = false;
    quint16 shieldDepth = 0;             // > 0 while inside QAyo::shield(): cancellation waits
    quint8 cancelDeliveries = 0;         // Cancelled thrown at checkpoints (diagnostics)
    bool suspendedForeign = false;       // suspended on an awaitable QAyo cannot interrupt
    bool exempt = false;                 // a block scope's body: no result in results()
    bool counted = true;                 // counts against maxConcurrency
    bool neverDrop = false;              // running already (adopted QCoro::Task): always waited for
    bool variantResult = false;          // resultAsVariant() may give a value (copyable result)
    quint32 slotQueuePosition = 0;       // while in its scope's maxConcurrency queue (scope_p.h)
    LimiterTicket *limiterTicket = nullptr; // the Limiter slot it asks for or holds (until settled)
    //! The home id of its thread's QAyo context (threadcontext_p.h), set on that thread when the
    //! record reaches its scope; 0 before, CancelledInFlight if a cancel came meanwhile. A cancel
    //! from another thread is mailed to the home thread by this id. 32 bits: with m_refs it fills
    //! what was the padding at the end of the record.
    std::atomic<std::uint32_t> homeContext{0};
    //! homeContext of a record cancelled on its way to its scope (no context has this id).
    static constexpr std::uint32_t CancelledInFlight = ~std::uint32_t(0);

protected:
    //! Resumes the freshly created root frame \a root (its promise already points here).
    void startFrame(std::coroutine_handle<> root) noexcept;

private:
    static void runStart(ReadyNode *node) noexcept;
    void markDoneHere(Outcome outcome, std::exception_ptr &error) noexcept;
    std::atomic<int> m_refs{1};
};

//! TypedRecord::valueTaken of a copyable result: every awaiter gets a copy, nothing to track.
struct NoValueTakenFlag
{
};

//! A record that stores a result of type T.
template<typename T>
class TypedRecord : public TaskRecord
{
public:
    TypedRecord() noexcept { variantResult = std::is_copy_constructible_v<T>; }
    QVariant resultAsVariant() const override
    {
        if constexpr (std::is_copy_constructible_v<T>) {
            if (value)
                return QVariant::fromValue(*value);
        }
        return {};
    }
    std::optional<T> value;
    //! A move-only result goes to one co_await only: the first one sets this (an exchange, so
    //! two threads awaiting at once cannot both take it). No member for copyable results.
    [[no_unique_address]] std::conditional_t<std::is_copy_constructible_v<T>, NoValueTakenFlag, std::atomic<bool>>
        valueTaken{};
};

template<>
class TypedRecord<void> : public TaskRecord
{
};

} // namespace QAyo::detail
