// SPDX-License-Identifier: MIT
// The mailbox between threads (see mailbox_p.h for the rules).
//
// Every letter goes through one mutex-protected list: the mutex is the hand-over that
// ThreadSanitizer sees (Qt's event queue, which also wakes the receiver, is not instrumented).
// The wake-up is a capture-less functor, so no object written on the sending thread is read by
// QAyo's code on the receiving one.
#include "mailbox_p.h"
#include "threadcontext_p.h"

#include <QThread>

#include <algorithm>
#include <mutex>
#include <vector>

namespace QAyo::detail {

namespace {
std::mutex mailMutex;

//! A node on its way to the thread of \a home (a thread context, or the object it was addressed
//! to); \a orphaned disposes of it if it can never be delivered.
struct Letter
{
    QObject *home;
    ReadyNode *node;
    ReadyNode::RunFunction orphaned;
};
std::vector<Letter> mailbox;
//! The homes whose delivery call is posted and has not started yet: mail for them rides along
//! with it, so letters that arrive while the receiving thread is busy cost one wake-up in all.
std::vector<QObject *> deliveryPosted;
//! Every thread context that accepts mail (a handful: one per thread that used QAyo).
struct LiveContext
{
    std::uint32_t homeId;
    QObject *context;
};
std::vector<LiveContext> liveContexts;

//! The letters this thread took from the mailbox and has not run yet, oldest first: those from
//! \a next on (the ones before it ran already; the vector keeps its capacity for the next
//! delivery). Only this thread touches it: no lock.
struct Inbox
{
    std::vector<Letter> letters;
    std::size_t next = 0;
    bool redeliveryPosted = false; // a deliverMail() call is posted to this thread's context
    bool hasLetters() const noexcept { return next < letters.size(); }
};
// A plain pointer of static TLS (initial-exec), made on the first delivery and freed with the
// thread's context (closeMailbox()): a thread_local object would cost an init guard and a
// __tls_get_addr call on every access, several per letter.
thread_local Inbox *tlsInbox __attribute__((tls_model("initial-exec"))) = nullptr;

Inbox &localInbox()
{
    if (Q_UNLIKELY(!tlsInbox))
        tlsInbox = new Inbox;
    return *tlsInbox;
}

//! Moves the letters \a matches picks from the mailbox to \a taken, in order, in one pass (with
//! a million aside jobs handing back while the loop is busy, erasing letter by letter would make
//! the pool threads queue behind the mutex). Call with mailMutex held.
template<typename Taken, typename Matches>
void takeLetters(Taken &taken, Matches matches)
{
    std::erase_if(deliveryPosted, matches);
    // Compacts in place: the mailbox keeps its capacity, so a steady stream of hand-backs does
    // not reallocate it after every delivery. Letters come in runs for the same home (a thread's
    // aside jobs): ask matches() once per run, the pool threads wait for this mutex meanwhile.
    auto kept = mailbox.begin();
    QObject *lastHome = nullptr;
    bool lastMatched = false;
    for (const auto &letter : mailbox) {
        if (letter.home != lastHome) {
            lastHome = letter.home;
            lastMatched = matches(lastHome);
        }
        if (lastMatched)
            taken.push_back(letter);
        else
            *kept++ = letter;
    }
    mailbox.erase(kept, mailbox.end());
}

void deliverMail() noexcept;

//! Keeps the inbox moving if the letter about to run enters a nested event loop (a modal dialog
//! in a slot): that loop runs the posted call, which continues the same inbox.
void postRedelivery(Inbox &inbox) noexcept
{
    if (std::exchange(inbox.redeliveryPosted, true))
        return;
    QMetaObject::invokeMethod(ThreadContext::current(), [] { deliverMail(); }, Qt::QueuedConnection);
}

void deliverMail() noexcept
{
    ThreadContext::current(); // the letters post to its ready queue; it exists from now on
    Inbox &inbox = localInbox();
    inbox.redeliveryPosted = false;
    QThread *here = QThread::currentThread();
    {
        std::lock_guard lock(mailMutex);
        takeLetters(inbox.letters, [here](QObject *home) { return home->thread() == here; });
    }
    // One at a time, each taken out (copied, \a next moved on) before it runs: what it runs may
    // purge later letters (a slot deleting a scope) or deliver them itself (a nested event loop,
    // which appends to the same inbox and goes on from the same \a next).
    while (inbox.hasLetters()) {
        const Letter letter = inbox.letters[inbox.next++];
        if (inbox.hasLetters())
            postRedelivery(inbox);
        letter.node->run(letter.node);
    }
    inbox.letters.clear();
    inbox.next = 0;
}

void disposeOf(const std::vector<Letter> &letters) noexcept
{
    for (const Letter &letter : letters)
        letter.orphaned(letter.node);
}
} // namespace

bool post(MailAddress to, ReadyNode *node, ReadyNode::RunFunction orphaned) noexcept
{
    std::lock_guard lock(mailMutex);
    QObject *home = to.home;
    if (!home) {
        // A context dies under this mutex (closeMailbox()), so one found here stays alive until
        // the delivery call is posted; if it dies before the delivery, it disposes of the letter.
        const auto it = std::find_if(liveContexts.begin(), liveContexts.end(),
                                     [&to](const LiveContext &live) { return live.homeId == to.homeId; });
        if (it == liveContexts.end())
            return false;
        home = it->context;
    } else if (home->thread()->isFinished()) {
        return false;
    }
    mailbox.push_back({home, node, orphaned});
    if (std::find(deliveryPosted.begin(), deliveryPosted.end(), home) != deliveryPosted.end())
        return true; // the posted delivery has not taken its letters yet: it takes this one too
    deliveryPosted.push_back(home);
    QMetaObject::invokeMethod(home, [] { deliverMail(); }, Qt::QueuedConnection);
    return true;
}

void purgeMail(QObject *home) noexcept
{
    std::vector<Letter> purged;
    {
        std::lock_guard lock(mailMutex);
        takeLetters(purged, [home](QObject *to) { return to == home; });
    }
    if (Inbox *inbox = tlsInbox) {
        // Compacts the letters not run yet in place, in order.
        auto kept = inbox->letters.begin() + qsizetype(inbox->next);
        for (auto it = kept; it != inbox->letters.end(); ++it) {
            if (it->home == home)
                purged.push_back(*it);
            else
                *kept++ = *it;
        }
        inbox->letters.erase(kept, inbox->letters.end());
    }
    disposeOf(purged);
}

void syncHandOver() noexcept
{
    std::lock_guard lock(mailMutex);
}

void openMailbox(std::uint32_t homeId, QObject *context)
{
    std::lock_guard lock(mailMutex);
    liveContexts.push_back({homeId, context});
}

void closeMailbox(std::uint32_t homeId, QObject *context) noexcept
{
    std::vector<Letter> orphans;
    if (Inbox *inbox = std::exchange(tlsInbox, nullptr)) {
        orphans.assign(inbox->letters.begin() + qsizetype(inbox->next), inbox->letters.end());
        delete inbox;
    }
    {
        std::lock_guard lock(mailMutex);
        std::erase_if(liveContexts, [homeId](const LiveContext &live) { return live.homeId == homeId; });
        // Letters for objects of this thread too (spawns into its scopes): nothing delivers
        // them any more.
        QThread *here = context->thread();
        takeLetters(orphans, [context, here](QObject *to) { return to == context || to->thread() == here; });
    }
    disposeOf(orphans);
}

} // namespace QAyo::detail
