// SPDX-License-Identifier: MIT
#pragma once

// Low-level scheduling nodes shared by the templates in the public headers. Users never touch
// these: they are the two queues every QAyo wake-up goes through.
//
// * ReadyNode: an intrusive entry of the calling thread's ready queue. Something that wants to
//   run "on a later turn of this thread's event loop" embeds a ReadyNode and posts it. The queue
//   is drained in batches by one posted QEvent, so a thousand wake-ups cost one event, not a
//   thousand. Nodes unlink themselves when destroyed, so an awaiter that dies in a destroyed
//   coroutine frame never runs.
// * DeadlineEntry: an intrusive entry of the thread's deadline heap. One QTimer per thread is
//   armed for the earliest entry (see Clock), so starting or cancelling a sleep costs O(log n).

#include <QAyo/qayo_global.h>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace QAyo::detail {

//! An entry of the per-thread ready queue (see file comment).
struct QAYO_CORE_EXPORT ReadyNode
{
    using RunFunction = void (*)(ReadyNode *) noexcept;

    explicit ReadyNode(RunFunction run) noexcept : run(run) {}
    // Moving yields a fresh, unlinked node: only unlinked nodes are ever moved (awaiters are
    // moved before they suspend), and links must never be shared.
    ReadyNode(ReadyNode &&other) noexcept : run(other.run) {}
    ReadyNode(const ReadyNode &) = delete;
    ReadyNode &operator=(const ReadyNode &) = delete;
    ~ReadyNode() { unlink(); }

    //! True while the node waits in a ready queue.
    bool isQueued() const noexcept { return next != nullptr; }
    //! Removes the node from its queue (no-op when not queued).
    void unlink() noexcept
    {
        if (next) {
            prev->next = next;
            next->prev = prev;
            prev = next = nullptr;
        }
    }

    ReadyNode *prev = nullptr;
    ReadyNode *next = nullptr;
    RunFunction run;
};

//! Appends \a node to the calling thread's ready queue (no-op if it is queued already).
QAYO_CORE_EXPORT void postReady(ReadyNode *node) noexcept;

using TimePoint = std::chrono::steady_clock::time_point;

//! An entry of the per-thread deadline heap (see file comment).
struct QAYO_CORE_EXPORT DeadlineEntry
{
    using FireFunction = void (*)(DeadlineEntry *) noexcept;
    static constexpr std::size_t NotQueued = ~std::size_t(0);

    explicit DeadlineEntry(FireFunction fire) noexcept : fire(fire) {}
    DeadlineEntry(DeadlineEntry &&other) noexcept : fire(other.fire) {}
    DeadlineEntry(const DeadlineEntry &) = delete;
    DeadlineEntry &operator=(const DeadlineEntry &) = delete;
    ~DeadlineEntry() { cancel(); }

    //! True while the entry waits in the heap.
    bool isQueued() const noexcept { return heapIndex != NotQueued; }
    //! Arms the entry for \a due on the calling thread's heap (re-arms if queued already).
    void arm(TimePoint due) noexcept;
    //! Removes the entry from the heap (no-op when not queued).
    void cancel() noexcept;

    TimePoint due{};
    std::uint64_t sequence = 0; // FIFO among equal deadlines
    std::size_t heapIndex = NotQueued;
    FireFunction fire;
};

} // namespace QAyo::detail
