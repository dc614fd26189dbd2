// SPDX-License-Identifier: MIT
#pragma once

// co_await scope: the awaiter behind Scope::join() (src/core/join.cpp).

#include <QAyo/detail/record.h>
#include <QAyo/detail/wakeable.h>

#include <coroutine>
#include <exception>

namespace QAyo::detail {

class ScopePrivate;

//! co_await scope: the join (see Scope::join()).
class QAYO_CORE_EXPORT JoinAwaiter final : public WakeableAwaiter
{
public:
    JoinAwaiter(ScopePrivate *scope, bool waitThroughCancel) noexcept;
    JoinAwaiter(JoinAwaiter &&other) noexcept;
    ~JoinAwaiter();

    bool await_ready();
    void await_suspend(std::coroutine_handle<> h) noexcept;
    void await_resume();
    void cancelRequested() noexcept override;
    void rethrowFailure();
    bool waitsThroughCancel() const noexcept { return m_waitThroughCancel; }
    //! Learns the joining task (see AwareCheckpoint); throws InvalidStateError if the scope
    //! waits for that task, so the join would never end (docs/scopes.md "Joining").
    void qayoBind(TaskRecord *joiner);

private:
    friend class ScopePrivate;
    ScopePrivate *m_scope;
    TaskRecord *m_joiner = nullptr; // the joining task, if it is a QAyo::Task (see qayoBind)
    bool m_waitThroughCancel;
    std::exception_ptr m_error; // what the join rethrows, captured when the scope finished
    bool m_registered = false;
    bool m_scopeDestroyed = false;
};

} // namespace QAyo::detail
