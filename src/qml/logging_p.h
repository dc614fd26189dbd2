// SPDX-License-Identifier: MIT
#pragma once

#include <QLoggingCategory>

namespace QAyo::Qml::detail {
Q_DECLARE_LOGGING_CATEGORY(lcQml) // qayo.qml: the QML module (unhandled task failures, bad calls)
} // namespace QAyo::Qml::detail
