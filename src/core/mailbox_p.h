// SPDX-License-Identifier: MIT
#pragma once

// The mailbox: the one way work crosses threads in QAyo (spawns, cancels, schedule switches,
// limiter grants, aside hand-backs). A letter is a ReadyNode (run on the addressee's thread)
// plus its "orphaned" disposer.
//
// The one rule for a thread that has ended: a letter for it is never run. Its orphaned disposer
// runs instead - on the dying thread for letters that were on their way when it ended, or by the
// sender at once (post() returns false) if it had ended already. A disposer gives back what the
// letter holds (a reference, a limiter slot, a task record it settles) and never touches an
// object of the ended thread (a scope left alive there keeps its counts until it is deleted).
//
// Delivery: a thread takes all its letters from the mailbox at once into its inbox, then runs
// them one at a time. User code a letter runs (a slot, a nested event loop) may delete objects
// other letters are addressed to (purgeMail() takes them out of the inbox too) or enter a nested
// event loop (a re-delivery is posted first, which continues the same inbox there).

#include <QAyo/detail/scheduling.h>

#include <cstdint>

class QObject;

namespace QAyo::detail {

//! Where a letter goes: a thread context, by its homeId() (a task's or a schedule's home thread,
//! a limiter ticket's or an aside job's), or an object and whatever thread it lives on when the
//! letter arrives (a spawn into a scope from another thread: the scope's thread may have no QAyo
//! context yet). An object address must outlive its letters or purge them (purgeMail()).
struct MailAddress
{
    //! The thread context whose homeId() is \a homeId.
    static MailAddress context(std::uint32_t homeId) noexcept { return {nullptr, homeId}; }
    //! The thread of \a object (a scope, which purges its mail as it is destroyed).
    static MailAddress object(QObject *object) noexcept { return {object, 0}; }
    QObject *home;
    std::uint32_t homeId;
};

//! Posts \a node to \a to: it runs there, soon. Returns false, posting nothing, if the
//! addressee's thread has ended: then the caller disposes of the letter at once with \a orphaned
//! (or its loop form), see the rule above. If the thread ends before the delivery, the dying
//! thread runs \a orphaned(node).
[[nodiscard]] QAYO_CORE_EXPORT bool post(MailAddress to, ReadyNode *node, ReadyNode::RunFunction orphaned) noexcept;

//! Takes back the letters addressed to the object \a home (it is being destroyed), from the
//! mailbox and from this thread's inbox, and runs their orphaned disposers.
QAYO_CORE_EXPORT void purgeMail(QObject *home) noexcept;

//! Makes every write before it visible to a thread that calls it afterwards (ThreadSanitizer
//! sees the mutex; use it around hand-overs made through Qt, e.g. QThreadPool::start()).
QAYO_CORE_EXPORT void syncHandOver() noexcept;

// For ThreadContext: a context accepts mail from its construction until it starts to die.
void openMailbox(std::uint32_t homeId, QObject *context);
//! The context \a context is dying on its thread: no letter reaches it any more, and every
//! letter still for this thread (in the mailbox or the inbox) is disposed of, here.
void closeMailbox(std::uint32_t homeId, QObject *context) noexcept;

} // namespace QAyo::detail
