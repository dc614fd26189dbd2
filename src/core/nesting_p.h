// SPDX-License-Identifier: MIT
#pragma once

// Nesting a scope after construction: the private entry point the QML module uses. QML creates
// a `Scope` first and sets its QObject parent afterwards (a Scope declared in a Scope, or
// `component.createObject(parentScope)`), so the constructor could not see the parent. Not an
// installed header: QAyo::Qml reaches it through the source tree.

#include <QAyo/qayo_global.h>

namespace QAyo {
class Scope;
}

namespace QAyo::detail {

//! Nests \a scope in its QObject parent if that is a Scope, as the constructor does when given
//! the parent: cancelling the parent cancels it, parentScope() and the tree show it. A parent
//! that is cancelled already cancels \a scope now (dropping its queued work), as a child created
//! in a cancelled scope starts cancelled. No-op if \a scope is nested already (by its
//! constructor or a block scope), or its parent is not a Scope. Call it on the scope's thread.
QAYO_CORE_EXPORT void nestInParentScope(Scope *scope);

} // namespace QAyo::detail
