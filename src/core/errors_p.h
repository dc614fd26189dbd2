// SPDX-License-Identifier: MIT
#pragma once

#include <QString>

#include <exception>

namespace QAyo::detail {
//! A one-line description of \a error for logs and signals.
QString describeException(const std::exception_ptr &error);
//! True if \a error holds QAyo::Cancelled.
bool isCancellation(const std::exception_ptr &error);
} // namespace QAyo::detail
