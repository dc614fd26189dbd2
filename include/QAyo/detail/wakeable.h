// SPDX-License-Identifier: MIT
#pragma once

#include <QAyo/detail/record.h>
#include <QAyo/detail/scheduling.h>

#include <coroutine>

namespace QAyo::detail {

//! Base of QAyo's own cancellation-aware awaiters: resumes its coroutine from the ready queue.
/*!
 * wake() posts the awaiter to the thread's ready queue; the queue resumes the coroutine on a
 * later turn. If the frame holding the awaiter is destroyed first, ~ReadyNode unlinks it, so a
 * destroyed task is never resumed.
 */
class WakeableAwaiter : public ReadyNode, public CancelHook
{
public:
    WakeableAwaiter() noexcept : ReadyNode(&WakeableAwaiter::resumeFromQueue) {}
    WakeableAwaiter(WakeableAwaiter &&other) noexcept = default;

protected:
    ~WakeableAwaiter() = default;

    //! Resume the suspended coroutine on a later turn of this thread's loop.
    void wake() noexcept { postReady(this); }

    std::coroutine_handle<> m_waiting;

private:
    static void resumeFromQueue(ReadyNode *node) noexcept
    {
        static_cast<WakeableAwaiter *>(node)->m_waiting.resume();
    }
};

//! co_await QAyo::checkpoint(): yields one ready-queue turn and checks for cancellation.
class CheckpointAwaiter final : public WakeableAwaiter
{
public:
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept
    {
        m_waiting = h;
        wake();
    }
    void await_resume() const noexcept {}
    void cancelRequested() noexcept override {} // already queued: it wakes soon anyway
};

} // namespace QAyo::detail

namespace QAyo {

//! An explicit checkpoint: lets other ready work run one turn, throws Cancelled if cancelled.
/*!
 * Use it in long loops that otherwise never await. Outside a QAyo::Task it only yields.
 */
inline detail::CheckpointAwaiter checkpoint() noexcept
{
    return {};
}

} // namespace QAyo
