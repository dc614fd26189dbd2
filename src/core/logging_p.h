// SPDX-License-Identifier: MIT
#pragma once

#include <QLoggingCategory>

namespace QAyo::detail {
Q_DECLARE_LOGGING_CATEGORY(lcScope)  // qayo.scope: scope life cycle, errors
Q_DECLARE_LOGGING_CATEGORY(lcCancel) // qayo.cancel: cancellation and its diagnostics
Q_DECLARE_LOGGING_CATEGORY(lcTime)   // qayo.time: deadlines and clocks
Q_DECLARE_LOGGING_CATEGORY(lcTask)   // qayo.task: task start/finish (debug only)
} // namespace QAyo::detail
