// SPDX-License-Identifier: MIT
#pragma once

// QAyo's built-in diagnostics (docs/program.md): warnings that point at the usual mistakes of a
// structured-concurrency program, each on by default and switchable, and the text behind
// QAyo::dumpTree().

#include <QAyo/qayo_global.h>

#include <QString>

namespace QAyo {

class Scope;

//! A built-in diagnostic; all are on by default.
enum class Diagnostic {
    //! qayo.program: the application quits while tasks of the root scope still run (named).
    QuitWithTasksRunning = 0x1,
    //! qayo.scope: a task is spawned into a scope whose thread runs no event loop (once per
    //! scope).
    SpawnWithoutEventLoop = 0x2,
    //! qayo.program: the QCoreApplication is destroyed before the root scope finished.
    ApplicationDestroyedEarly = 0x4,
};

//! Turns one diagnostic on or off, process-wide. Thread-safe.
QAYO_CORE_EXPORT void setDiagnosticEnabled(Diagnostic diagnostic, bool enabled) noexcept;
//! Turns every built-in diagnostic on or off, process-wide. Thread-safe.
QAYO_CORE_EXPORT void setDiagnosticsEnabled(bool enabled) noexcept;
//! True if \a diagnostic is on.
QAYO_CORE_EXPORT bool isDiagnosticEnabled(Diagnostic diagnostic) noexcept;

//! The text QAyo::dumpTree() prints: the tree below \a scope, or below every root scope of the
//! calling thread when \a scope is null. One line per scope and task, indented by depth.
//! Call it on the thread of the scopes: InvalidStateError naming \a scope otherwise.
QAYO_CORE_EXPORT QString treeText(const Scope *scope = nullptr);

} // namespace QAyo
