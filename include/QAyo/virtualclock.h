// SPDX-License-Identifier: MIT
#pragma once

#include <QAyo/clock.h>

#include <QObject>
#include <QTimer>

namespace QAyo::Test {

//! A clock for tests: time moves only when the test says so, or jumps when nothing else can run.
/*!
 * Install it on the test's thread before the code under test creates deadlines (sleeps, scope
 * timeouts, after/at/every); uninstall (or destroy) it at the end.
 *
 * - Manual mode: advance(d) / advanceTo(t) move time forward, firing every deadline on the way
 *   in order and letting the woken tasks run before moving on.
 * - Autojump mode (Trio's MockClock with autojump_threshold=0): whenever the thread's ready queue
 *   is empty, time jumps to the next deadline at once. A test of a 30 s timeout runs in
 *   milliseconds. Work waiting on something else (a socket, a real QTimer) does not stop the
 *   jump: autojump assumes that every task waits on QAyo time.
 *
 * \code
 * QAyo::Test::VirtualClock clock(QAyo::Test::VirtualClock::Mode::AutoJump);
 * clock.install();
 * // ... a scope with .timeout = 30s finishes at once, and isTimedOut() is true
 * \endcode
 */
class QAYO_TEST_EXPORT VirtualClock final : public QObject, public QAyo::Clock
{
    Q_OBJECT
public:
    //! How time moves (see the class comment).
    enum class Mode { Manual, AutoJump };
    Q_ENUM(Mode)

    //! A clock starting at the real current time; not installed yet.
    explicit VirtualClock(Mode mode = Mode::Manual, QObject *parent = nullptr);
    //! Uninstalls the clock if it is installed.
    ~VirtualClock() override;

    //! Makes this the clock of the calling thread. Throws InvalidStateError if another
    //! VirtualClock is installed there already.
    void install();
    //! Restores the real clock on the thread it was installed on.
    void uninstall();
    //! True while installed.
    bool isInstalled() const noexcept { return m_installed; }

    //! The virtual current time: moves only by advance(), advanceTo() or an autojump.
    TimePoint now() const override { return m_now; }
    //! The wall-clock time at install, moved along with now().
    std::chrono::system_clock::time_point systemNow() const override;

    //! Moves time forward by \a duration (negative: InvalidArgument), firing deadlines in order.
    void advance(Duration duration);
    //! Moves time forward to \a time (earlier than now(): InvalidArgument).
    void advanceTo(TimePoint time);
    //! The current mode.
    Mode mode() const noexcept { return m_mode; }
    //! Switches mode; switching to AutoJump may jump at once.
    void setMode(Mode mode);
    //! How much virtual time has passed since the clock was created.
    Duration elapsed() const noexcept { return m_now - m_start; }

protected:
    void wakeUpAt(TimePoint due) override;

private:
    void jumpIfIdle();

    TimePoint m_start;
    TimePoint m_now;
    std::chrono::system_clock::time_point m_systemStart;
    QTimer m_jumpTimer;
    Mode m_mode;
    bool m_installed = false;
};

} // namespace QAyo::Test
