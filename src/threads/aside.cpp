// SPDX-License-Identifier: MIT
// Aside work: a function on a QThreadPool, its outcome handed back to the scope's thread.
#include <QAyo/aside.h>

#include "../core/mailbox_p.h"
#include "../core/threadcontext_p.h"
#include "asidequeue_p.h"

namespace QAyo::detail {

AsideCore::~AsideCore() = default;

void AsideCore::submit()
{
    // While queued or running in the pool the record is "suspended on a foreign awaitable": a
    // scope destroyed meanwhile orphans it (a thread cannot be killed) and this hook asks it to
    // stop.
    m_record->hook = this;
    m_record->suspendedForeign = true;
    m_homeId = ThreadContext::current()->homeId();
    m_record->ref(); // the worker's reference, dropped after the hand-back
    // The queue's mutex is the hand-over: everything written here is visible to the drainer.
    AsideQueue::of(m_pool)->push(this);
}

void AsideCore::runOnWorker() noexcept
{
    std::exception_ptr error;
    try {
        m_work(m_record);
    } catch (...) {
        error = std::current_exception();
    }
    handBack(std::move(error));
}

void AsideCore::handBack(std::exception_ptr error) noexcept
{
    // Deliver on the home thread, through the mail that ThreadSanitizer can follow (jobs that
    // finish while the home thread is busy come back in one delivery).
    m_error = std::move(error);
    if (post(MailAddress::context(m_homeId), &m_done, &DoneNode::orphaned))
        return; // if the home thread ends before the delivery, it runs DoneNode::orphaned()
    DoneNode::orphaned(&m_done);
}

void AsideCore::DoneNode::arrived(ReadyNode *node) noexcept
{
    AsideCore *core = static_cast<DoneNode *>(node)->core;
    core->finishOnHome(std::exchange(core->m_error, {}));
}

void AsideCore::DoneNode::orphaned(ReadyNode *node) noexcept
{
    // The home thread has ended (the rule of src/core/mailbox_p.h). If the scope was destroyed
    // first, nobody else touches the record any more: finish it here, so that it is freed and an
    // error is still told (qayo.scope). If the scope lives on, an object of an ended thread, the
    // record stays with it untouched (finishing would run the scope's bookkeeping here, racing
    // the other jobs that come back): the scope's destruction lets it go (cancelRequested()).
    AsideCore *core = static_cast<DoneNode *>(node)->core;
    if (core->m_parting.fetch_or(CameBackToEndedThread, std::memory_order_acq_rel) & LetGoByScope)
        core->finishOnHome(std::exchange(core->m_error, {}));
}

void AsideCore::finishOnHome(std::exception_ptr error) noexcept
{
    TaskRecord *record = m_record;
    record->hook = nullptr;
    record->suspendedForeign = false;
    if (m_stage == Stage::Dropped) // never ran: cancelled, or removed by QThreadPool::clear()
        record->cancelRequested = true;
    record->complete(std::move(error));
    record->deref(); // the worker's reference
}

void AsideCore::dropIfUnstarted() noexcept
{
    if (m_queue && m_queue->tryTake(this)) {
        // No pool thread had taken it: the work is dropped and the task ends as cancelled - on
        // the next turn, not inside the cancel that is iterating the scope's tasks right now.
        m_stop.request_stop();
        m_error = std::make_exception_ptr(Cancelled{});
        postReady(&m_done); // same thread: the next turn of the ready queue
    }
}

void AsideCore::cancelRequested() noexcept
{
    // Usually dropIfUnstarted() ran first (a scope cancel takes every queued job back before it
    // stops running ones); a cancel of this task alone (Handle::cancel()) comes straight here.
    dropIfUnstarted();
    m_stop.request_stop();
    // Orphaned by the scope's destruction (it clears record->scope first): if the outcome came
    // back to an ended thread already, it was left for this moment.
    if (!m_record->scope && (m_parting.fetch_or(LetGoByScope, std::memory_order_acq_rel) & CameBackToEndedThread))
        finishOnHome(std::exchange(m_error, {}));
}

} // namespace QAyo::detail
