// SPDX-License-Identifier: MIT
// Must FAIL (ctest WILL_FAIL): an exception escaping a task run with QAYO_TEST_RUN fails the test.
#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QTest>

class WillFailException : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void escapedExceptionFailsTheTest()
    {
        auto body = []() -> QAyo::Task<> {
            co_await QAyo::checkpoint();
            throw std::runtime_error("escaped on purpose");
        };
        QAYO_TEST_RUN(body());
        QVERIFY(true); // not reached: the line above fails the test
    }
};

QTEST_GUILESS_MAIN(WillFailException)
#include "tst_willfail_exception.moc"
