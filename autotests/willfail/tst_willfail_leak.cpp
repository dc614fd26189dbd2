// SPDX-License-Identifier: MIT
// Must FAIL (ctest WILL_FAIL): a task left running when the test ends fails it.
#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QTest>

using namespace std::chrono_literals;

class WillFailLeak : public QObject
{
    Q_OBJECT
    QAyo::Scope *m_leaky = nullptr;

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    void leakedTaskFailsTheTest()
    {
        m_leaky = new QAyo::Scope(this); // outlives the test function on purpose
        m_leaky->asap([]() -> QAyo::Task<> { co_await QAyo::sleep(1h); });
        QTRY_COMPARE(m_leaky->runningCount(), 1);
    }
};

QTEST_GUILESS_MAIN(WillFailLeak)
#include "tst_willfail_leak.moc"
