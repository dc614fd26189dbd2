// SPDX-License-Identifier: MIT
// The out-of-line half of the cancellation toolkit (include/QAyo/cancellation.h).
#include <QAyo/cancellation.h>

#include "errors_p.h"
#include "logging_p.h"

namespace QAyo::detail {

void warnOnCancelThrew(const std::exception_ptr &error) noexcept
{
    try {
        qCWarning(lcCancel).noquote() << "QAyo::cancellable: the onCancel callback threw; ignored:"
                                      << describeException(error);
    } catch (...) {
        // Logging must not turn a cancellation into a terminate (it runs in a noexcept path).
    }
}

} // namespace QAyo::detail
