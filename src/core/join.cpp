// SPDX-License-Identifier: MIT
// The join: co_await scope (JoinAwaiter) and the block form QAyo::scope(options, body).
#include <QAyo/scope.h>

#include "cancelwalk_p.h"
#include "logging_p.h"
#include "scope_p.h"

#include <algorithm>

namespace QAyo {

namespace detail {

void ScopePrivate::releaseJoinersOfDestroyedScope() noexcept
{
    for (JoinAwaiter *joiner : std::exchange(m_joiners, {})) {
        joiner->m_registered = false;
        joiner->m_scopeDestroyed = true;
        joiner->m_scope = nullptr;
        joiner->wake();
    }
}

JoinAwaiter::JoinAwaiter(ScopePrivate *scope, bool waitThroughCancel) noexcept
    : m_scope(scope), m_waitThroughCancel(waitThroughCancel)
{
}

JoinAwaiter::JoinAwaiter(JoinAwaiter &&other) noexcept
    : WakeableAwaiter(std::move(other)), m_scope(other.m_scope), m_joiner(other.m_joiner),
      m_waitThroughCancel(other.m_waitThroughCancel)
{
    Q_ASSERT(!other.m_registered);
}

JoinAwaiter::~JoinAwaiter()
{
    if (m_registered && m_scope) {
        auto &joiners = m_scope->m_joiners;
        joiners.erase(std::remove(joiners.begin(), joiners.end(), this), joiners.end());
    }
}

void JoinAwaiter::qayoBind(TaskRecord *joiner)
{
    if (!joiner || !m_scope)
        return;
    m_joiner = joiner;
    // Joining a scope nested in the joining task: its tasks are cancelled with the joiner, so
    // waiting for them to unwind is short and keeps the structured guarantee.
    if (m_scope->isWithin(joiner)) {
        m_waitThroughCancel = true;
        return;
    }
    if (Q_UNLIKELY(m_scope->waitsFor(joiner))) {
        throw InvalidStateError(
            QStringLiteral("join: a task of scope '%1' cannot wait for its own scope to end: the scope waits for "
                           "task '%2' (directly or through the scopes it waits for), so the join would never return. "
                           "Join it from outside, e.g. where it was created")
                .arg(scopeLabel(m_scope), joiner->displayName()));
    }
}

bool JoinAwaiter::await_ready()
{
    if (!m_scope) {
        m_scopeDestroyed = true;
        return true;
    }
    if (m_scope->m_finished) {
        if (!m_scope->options.supervise && !m_scope->m_errors.isEmpty())
            m_error = m_scope->m_errors.first();
        return true;
    }
    m_scope->m_joinRequested = true;
    if (!m_scope->m_started) {
        m_scope->ensureStarted();
        ScopePrivate::Guard guard(m_scope);
        Q_EMIT m_scope->q->started();
        if (guard.destroyed) { // a slot destroyed the scope: the join reports it
            m_scopeDestroyed = true;
            m_scope = nullptr;
            return true;
        }
    }
    return false;
}

void JoinAwaiter::await_suspend(std::coroutine_handle<> h) noexcept
{
    m_waiting = h;
    m_registered = true;
    m_scope->m_joiners.push_back(this);
    m_scope->checkJoin();
}

void JoinAwaiter::await_resume()
{
    if (m_scopeDestroyed)
        throw ScopeClosedError(QStringLiteral("join: the scope was destroyed while being joined"));
    if (m_error)
        std::rethrow_exception(m_error);
}

void JoinAwaiter::cancelRequested() noexcept
{
    if (m_waitThroughCancel || !m_registered)
        return;
    auto &joiners = m_scope->m_joiners;
    joiners.erase(std::remove(joiners.begin(), joiners.end(), this), joiners.end());
    m_registered = false;
    wake();
}

void JoinAwaiter::rethrowFailure()
{
    if (m_error)
        std::rethrow_exception(m_error);
}

Task<ScopeOutcome> runBlockScope(ScopeOptions options, std::function<void(Scope &)> body)
{
    TaskRecord *parent = co_await CurrentRecordRequest{};
    Scope scope(options, parent);
    scope.d->ensureStarted();
    try {
        body(scope);
    } catch (...) {
        scope.d->recordError(std::current_exception());
        CancelWalk walk;
        scope.d->markCancelled(walk);
    }
    // Waits through a cancel of the enclosing task (the nested tasks are cancelled with it and
    // unwind first); rethrows the first error, then Cancelled if the enclosing task was cancelled.
    co_await JoinAwaiter(scope.d.get(), true);
    ScopeOutcome outcome;
    outcome.timedOut = scope.isTimedOut();
    outcome.cancelled = scope.isCancelled();
    outcome.results = scope.results();
    outcome.errors = scope.errors();
    co_return outcome;
}

} // namespace detail

detail::JoinAwaiter Scope::join()
{
    checkOnScopeThread("join");
    return detail::JoinAwaiter(d.get(), false);
}

} // namespace QAyo
