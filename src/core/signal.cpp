// SPDX-License-Identifier: MIT
#include <QAyo/signal.h>

#include "threadcontext_p.h"

namespace QAyo::detail {
QObject *threadContextObject()
{
    return ThreadContext::current();
}

void checkTimeoutNotNegative(const char *operation, std::chrono::milliseconds timeout)
{
    if (timeout < std::chrono::milliseconds::zero())
        throw InvalidArgument(QStringLiteral("%1: timeout must not be negative, got %2 ms")
                                  .arg(QLatin1String(operation))
                                  .arg(timeout.count()));
}
} // namespace QAyo::detail
