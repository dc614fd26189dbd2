// SPDX-License-Identifier: MIT
// Must FAIL (ctest WILL_FAIL): an error rethrown by a join made with QAYO_TEST_JOIN fails the test.
#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QTest>

class WillFailJoin : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void errorOfTheJoinedScopeFailsTheTest()
    {
        QAyo::Scope scope;
        scope.asap([]() -> QAyo::Task<> {
            co_await QAyo::checkpoint();
            throw std::runtime_error("rethrown by the join on purpose");
        });
        QAYO_TEST_JOIN(scope);
        QVERIFY(true); // not reached: the line above fails the test
    }
};

QTEST_GUILESS_MAIN(WillFailJoin)
#include "tst_willfail_join.moc"
