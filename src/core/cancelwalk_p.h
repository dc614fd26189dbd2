// SPDX-License-Identifier: MIT
#pragma once

// CancelWalk: what a walk over shared state (a scope tree, a task list, a queue) leaves to run
// after it. A walk only changes state: it marks scopes and tasks cancelled, withdraws unstarted
// records from their queues, marks them done and wakes their waiters. Everything that can run
// user code - the destructors of a dropped callable and its captures (they may cancel a sibling,
// delete a scope, ...), the last reference of a schedule's callable, the frames of a destroyed
// scope's suspended tasks, the signals of the scopes it cancelled - is collected here and run
// when the walk is over (the destructor), so no user code ever meets a half-walked list.
//
// The records are chained through their nextInScope link (free once a record left its scope's
// task list), the schedules through theirs: collecting allocates nothing. The notified scopes
// are held by QPointer: user code run before their turn may delete them.

#include <QAyo/scheduled.h>

#include <QPointer>
#include <QVarLengthArray>

namespace QAyo {
class Scope;
}

namespace QAyo::detail {

class TaskRecord;
class ScopePrivate;

class CancelWalk
{
public:
    CancelWalk() noexcept = default;
    CancelWalk(const CancelWalk &) = delete;
    CancelWalk &operator=(const CancelWalk &) = delete;
    //! Runs what was collected: see run().
    ~CancelWalk() { run(); }

    //! \a record is done (markDone()) and out of every list: its work is released and the
    //! reference the walk took over (its scope's) dropped after the walk.
    void releaseLater(TaskRecord *record) noexcept;
    //! \a record's frame (suspended on one of QAyo's own awaiters) is destroyed after the walk,
    //! then the record is marked cancelled and released (scope destruction).
    void destroyFrameLater(TaskRecord *record) noexcept;
    //! The scope's reference to \a schedule is dropped after the walk (it may be the last one:
    //! the schedule's callable dies with it).
    void derefLater(ScheduleRecord *schedule) noexcept;
    //! \a scope emits cancelling(), cancelledChanged(), pendingChanged() (and activeChanged()
    //! if it emptied) after the walk, and checks whether its join can end.
    void notifyCancelled(Scope *scope);
    //! Forgets the signals collected so far (a scope being destroyed cancels its children
    //! quietly: they are deleted right after).
    void dropNotifications() noexcept { m_notify.clear(); }

    //! Destroys the frames, releases the work and drops the references collected so far (in
    //! the order collected); the signals wait for run().
    void releaseWork() noexcept;
    //! Runs what was collected, in this order: frames destroyed, work released and references
    //! dropped (in the order collected), then the signals. Anything collected meanwhile (the
    //! user code may cancel more) runs too before it returns.
    void run() noexcept;

private:
    TaskRecord *m_firstFrame = nullptr;
    TaskRecord *m_lastFrame = nullptr;
    TaskRecord *m_firstRelease = nullptr;
    TaskRecord *m_lastRelease = nullptr;
    ScheduleRecord *m_firstSchedule = nullptr;
    QVarLengthArray<QPointer<Scope>, 4> m_notify; // the scopes to notify after the walk
};

} // namespace QAyo::detail
