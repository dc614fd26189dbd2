// SPDX-License-Identifier: MIT
#include "logging_p.h"

namespace QAyo::detail {
Q_LOGGING_CATEGORY(lcScope, "qayo.scope", QtInfoMsg)
Q_LOGGING_CATEGORY(lcCancel, "qayo.cancel", QtInfoMsg)
Q_LOGGING_CATEGORY(lcTime, "qayo.time", QtInfoMsg)
Q_LOGGING_CATEGORY(lcTask, "qayo.task", QtInfoMsg)
} // namespace QAyo::detail
