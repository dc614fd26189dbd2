// SPDX-License-Identifier: MIT
#pragma once

#include <typeinfo>

// Internals of the built-in diagnostics and of dumpTree(): the root-scope registry lives in
// scope.cpp (it needs the tree links), the checks in diagnostics.cpp, the dump in dumptree.cpp.

#include <QAyo/diagnostics.h>

#include <QList>
#include <QLoggingCategory>

namespace QAyo {
class Scope;
}

namespace QAyo::detail {

class ScopePrivate;
class TaskRecord;

//! Reads a Scope's private part (Scope befriends it for the tree dump and the diagnostics).
struct TreeAccess
{
    static ScopePrivate *of(const Scope *scope) noexcept;
};

Q_DECLARE_LOGGING_CATEGORY(lcTree) // qayo.tree: dumpTree() output

//! The root scopes (no parent scope, no parent task) that live on the calling thread.
QList<ScopePrivate *> rootScopesOfThisThread();

//! Called by Scope::spawnRecord on the scope's thread: warns (once per scope) when that thread
//! runs no event loop, so the task would never start. Cheap when a loop runs.
QAYO_CORE_EXPORT void checkSpawnThread(ScopePrivate *scope) noexcept;

//! "name" of a task for logs and dumps, with the state it is in ("queued", "running", ...).
QString describeTaskState(const TaskRecord *record);
//! The class name of \a type, demangled where the compiler allows, without namespaces and
//! template arguments ("SleepAwaiter" for QAyo::detail::SleepAwaiter).
QString readableTypeName(const std::type_info &type);
//! The names and states of the unfinished tasks below \a scope, depth first (at most \a limit).
QAYO_CORE_EXPORT QStringList unfinishedTasksBelow(const Scope *scope, int limit = 20);

} // namespace QAyo::detail
