// SPDX-License-Identifier: MIT
// The scope tree: a scope hangs below a task (the block form) or below a scope (a QObject parent);
// root scopes are listed process-wide for dumpTree(). Also the questions asked of the tree: is a
// scope nested in a task, and does a scope wait for a task (the "wait that could never end" rule
// of joins and limiters).
#include <QAyo/scope.h>

#include "cancelwalk_p.h"
#include "nesting_p.h"
#include "scope_p.h"

#include <QMutex>
#include <QThread>
#include <QVarLengthArray>

#include <algorithm>

namespace QAyo {

namespace detail {

void ScopePrivate::attachTo(ScopePrivate **listHead) noexcept
{
    ownerList = listHead;
    prevSibling = nullptr;
    nextSibling = *listHead;
    if (nextSibling)
        nextSibling->prevSibling = this;
    *listHead = this;
}

void ScopePrivate::detach() noexcept
{
    if (!ownerList)
        return;
    if (prevSibling)
        prevSibling->nextSibling = nextSibling;
    else
        *ownerList = nextSibling;
    if (nextSibling)
        nextSibling->prevSibling = prevSibling;
    ownerList = nullptr;
    prevSibling = nextSibling = nullptr;
    parentTask = nullptr;
    parentScope = nullptr;
}

// Root scopes (no parent scope, no parent task) hang in one process-wide list, for dumpTree().
// Only root scopes pay for it (a mutex per construction and destruction); the list reuses the

//! Root scopes (no parent scope, no parent task) hang in one process-wide list, for dumpTree().
//! Only root scopes pay for it (a mutex per construction and destruction); the list reuses the
//! sibling links, which a root scope does not otherwise use.
namespace {
QBasicMutex rootScopesMutex;
ScopePrivate *firstRootScope = nullptr;
} // namespace

void registerRootScope(ScopePrivate *d) noexcept
{
    QMutexLocker lock(&rootScopesMutex);
    d->attachTo(&firstRootScope);
}

void unregisterRootScope(ScopePrivate *d) noexcept
{
    QMutexLocker lock(&rootScopesMutex);
    d->detach();
}

bool isRootScope(const ScopePrivate *d) noexcept
{
    return d->ownerList == &firstRootScope;
}

void ScopePrivate::nestInQObjectParent(Scope *scope)
{
    ScopePrivate *d = scope->d.get();
    auto *parent = qobject_cast<Scope *>(scope->parent());
    if (!parent || d->ownerList != &firstRootScope)
        return; // not a Scope's child, or nested already
    ScopePrivate *parentD = parent->d.get();
    if (parentD->m_dying)
        return; // about to delete this scope with its other QObject children
    unregisterRootScope(d);
    d->attachTo(&parentD->firstChild);
    d->parentScope = parentD;
    if (parentD->m_cancelled) {
        // As for a child created in a cancelled scope, or present when the parent was cancelled.
        CancelWalk walk;
        d->markCancelled(walk);
    }
}

void nestInParentScope(Scope *scope)
{
    ScopePrivate::nestInQObjectParent(scope);
}

QList<ScopePrivate *> rootScopesOfThisThread()
{
    QList<ScopePrivate *> roots;
    QThread *current = QThread::currentThread();
    QMutexLocker lock(&rootScopesMutex);
    for (ScopePrivate *d = firstRootScope; d; d = d->nextSibling) {
        if (d->q->thread() == current)
            roots.prepend(d); // the list is newest first: print oldest first
    }
    return roots;
}

bool ScopePrivate::isWithin(const TaskRecord *record) const noexcept
{
    for (const ScopePrivate *s = this; s;) {
        if (s->parentTask) {
            if (s->parentTask == record)
                return true;
            s = s->parentTask->scope;
        } else {
            s = s->parentScope;
        }
    }
    return false;
}

bool ScopePrivate::waitsFor(const TaskRecord *record) const noexcept
{
    // The scopes whose end waits for the record: its own scope, then the scopes of the tasks
    // that wait for that scope to end (the task a block scope is nested in, the tasks
    // suspended in its join), and so on. A handful of pointers: the chain of a normal program
    // is short. The visited list only guards against a cycle of waits made some other way.
    QVarLengthArray<const TaskRecord *, 8> pending;
    QVarLengthArray<const ScopePrivate *, 8> visited;
    pending.append(record);
    while (!pending.isEmpty()) {
        const TaskRecord *r = pending.last();
        pending.removeLast();
        const ScopePrivate *s = r->scope;
        if (!s)
            continue;
        if (s == this)
            return true;
        if (std::find(visited.cbegin(), visited.cend(), s) != visited.cend())
            continue;
        visited.append(s);
        if (s->parentTask)
            pending.append(s->parentTask);
        for (const JoinAwaiter *joiner : s->m_joiners) {
            if (joiner->m_joiner)
                pending.append(joiner->m_joiner);
        }
    }
    return false;
}

} // namespace detail

Scope *detail::scopeOf(const TaskRecord *record) noexcept
{
    return record && record->scope ? record->scope->q : nullptr;
}

Scope *Scope::parentScope() const
{
    if (d->parentScope)
        return d->parentScope->q;
    if (d->parentTask && d->parentTask->scope)
        return d->parentTask->scope->q;
    return nullptr;
}

} // namespace QAyo
