// SPDX-License-Identifier: MIT
// Aside work: a function on a QThreadPool, its outcome handed back to the scope's thread.
#include <QAyo/aside.h>
#include <QAyo/signal.h>

#include "../core/threadcontext_p.h"

#include <QMetaObject>
#include <QRunnable>

namespace QAyo::detail {

//! The pool's view of an aside task. Not auto-deleted: the home thread deletes it after the
//! hand-back (or after taking it back from the pool on cancel).
class AsideCore::Runnable final : public QRunnable
{
public:
    explicit Runnable(AsideCore *core) : m_core(core) { setAutoDelete(false); }
    void run() override
    {
        syncHandOver(); // pairs with submit(): everything written there is visible here
        m_core->runOnWorker();
    }

private:
    AsideCore *m_core;
};

AsideCore::~AsideCore()
{
    delete m_runnable;
}

void AsideCore::submit()
{
    // While queued or running in the pool the record is "suspended on a foreign awaitable": a
    // scope destroyed meanwhile orphans it (a thread cannot be killed) and this hook asks it to
    // stop.
    m_record->hook = this;
    m_record->suspendedForeign = true;
    m_home = threadContextObject();
    m_record->ref(); // the worker's reference, dropped after the hand-back
    m_runnable = new Runnable(this);
    syncHandOver(); // the worker's Runnable::run() syncs on the same mutex
    m_pool->start(m_runnable);
}

void AsideCore::runOnWorker() noexcept
{
    std::exception_ptr error;
    try {
        m_work(m_record);
    } catch (...) {
        error = std::current_exception();
    }
    // Deliver on the home thread, through the mail that ThreadSanitizer can follow.
    m_error = error;
    postToThreadOf(m_home, &m_done);
}

void AsideCore::DoneNode::arrived(ReadyNode *node) noexcept
{
    AsideCore *core = static_cast<DoneNode *>(node)->core;
    core->finishOnHome(std::exchange(core->m_error, {}));
}

void AsideCore::finishOnHome(std::exception_ptr error) noexcept
{
    TaskRecord *record = m_record;
    delete std::exchange(m_runnable, nullptr);
    record->hook = nullptr;
    record->suspendedForeign = false;
    record->complete(std::move(error));
    record->deref(); // the worker's reference
}

void AsideCore::cancelRequested() noexcept
{
    m_stop.request_stop();
    if (m_runnable && !m_dropped && m_pool->tryTake(m_runnable)) {
        // The pool had not started it: the work is dropped and the task ends as cancelled - on
        // the next turn, not inside the cancel that is iterating the scope's tasks right now.
        m_dropped = true;
        m_record->cancelRequested = true;
        m_error = std::make_exception_ptr(Cancelled{});
        postReady(&m_done); // same thread: the next turn of the ready queue
    }
}

} // namespace QAyo::detail
