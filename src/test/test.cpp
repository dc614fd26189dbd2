// SPDX-License-Identifier: MIT
#include <QAyo/test.h>

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QEventLoop>
#include <QThread>

namespace QAyo::Test::detail {

bool spinUntil(const std::function<bool()> &done, std::chrono::milliseconds deadline)
{
    QDeadlineTimer timer(deadline);
    while (!done()) {
        if (timer.hasExpired())
            return false;
        // WaitForMoreEvents blocks until something happens (a posted event, a timer): no busy
        // loop, and no sleep that could make a test pass by luck.
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents,
                                        int(std::max<qint64>(1, timer.remainingTime())));
    }
    return true;
}

} // namespace QAyo::Test::detail
