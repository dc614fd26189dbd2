// SPDX-License-Identifier: MIT
// The consumer's Qt Test suite, written with the installed <QAyo/Test>.
#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QTest>

using namespace std::chrono_literals;

class ConsumerTest : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    void virtualClockSkipsTheWait()
    {
        QAyo::Test::VirtualClock clock(QAyo::Test::VirtualClock::Mode::AutoJump);
        clock.install();
        bool done = false;
        QAYO_TEST_RUN([](bool *done) -> QAyo::Task<> {
            co_await QAyo::sleep(1h); // an hour of virtual time, at once
            *done = true;
        }(&done));
        QVERIFY(done);
    }

    void errorsReachTheJoin()
    {
        bool caught = false;
        QAYO_TEST_RUN([](bool *caught) -> QAyo::Task<> {
            try {
                co_await QAyo::scope([](QAyo::Scope &run) {
                    run << []() -> QAyo::Task<> {
                        throw QAyo::InvalidArgument(QStringLiteral("boom"));
                        co_return;
                    }();
                });
            } catch (const QAyo::InvalidArgument &) {
                *caught = true;
            }
        }(&caught));
        QVERIFY(caught);
    }
};

QTEST_GUILESS_MAIN(ConsumerTest)
#include "tst_consumer.moc"
