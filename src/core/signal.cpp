// SPDX-License-Identifier: MIT
#include <QAyo/signal.h>

#include "threadcontext_p.h"

namespace QAyo::detail {
QObject *threadContextObject()
{
    return ThreadContext::current();
}
} // namespace QAyo::detail
