// SPDX-License-Identifier: MIT
// The randomized stress machinery shared by tst_stress and tst_stress_threads.
//
// A Run drives one seed: it keeps "episodes" going in a supervising root scope until it has
// made its quota of operations. Every random choice comes from a generator seeded with
// (seed, node id), so a node does the same things whatever order the loop runs them in.
//
// An episode is one of: an explicit Scope with random options, the block form QAyo::scope(),
// a Scope owned by a QObject that is deleted while work runs, or spawns made from another
// thread. Inside, work items are QAyo tasks, callables (plain and returning tasks), QCoro tasks
// and aside functions; they sleep, checkpoint, spawn siblings, open nested scopes, await
// handles, schedule after/every, use withTimeout and shield, cancel, and throw. Some callables
// hold captures whose destructors cancel a sibling task (or the scope): user code that runs when
// a cancel, a scope's destruction or the task's end drops the callable.
//
// What is checked (DESIGN.md section 2), as violations collected during the run:
// - no task (or callback, or aside function start) runs after its scope finished,
// - a join returns only after every task of its scope ended,
// - no callback fires after unschedule() / cancel() of its Scheduled,
// - no task resumes after its owner QObject was deleted,
// - a task resumes only on its scope's thread,
// and at the end: the live-frame counter is zero, no QAyo task is left, and every error thrown
// was observed (by a join, errors() or the taskFailed signal).
#pragma once

#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QHash>
#include <QObject>
#include <QPointer>
#include <QSet>
#include <QStringList>
#include <QThread>

#include <qcoro/qcorotask.h>
#include <qcoro/qcorotimer.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace Stress {

using namespace std::chrono_literals;

//! splitmix64: small, fast, and good enough to pick actions.
class Rng
{
public:
    explicit Rng(quint64 seed) : m_state(seed) {}
    Rng(quint64 seed, quint64 stream) : m_state(seed * 0x9E3779B97F4A7C15ull ^ (stream + 0x632BE59BD9B4E019ull)) {}
    quint64 next()
    {
        quint64 z = (m_state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    //! 0 .. n-1
    int below(int n) { return n <= 1 ? 0 : int(next() % quint64(n)); }
    //! true with \a percent % probability
    bool chance(int percent) { return below(100) < percent; }

private:
    quint64 m_state;
};

//! The error the stress throws on purpose; its id ties what is thrown to what is observed.
class StressError : public std::runtime_error
{
public:
    explicit StressError(quint64 id)
        : std::runtime_error("stress error #" + std::to_string(id)), m_id(id)
    {
    }
    quint64 id() const noexcept { return m_id; }

private:
    quint64 m_id;
};

//! What the stress knows about one scope it made.
struct ScopeTrack
{
    QString label;
    std::atomic<bool> finished { false }; // joined, or destroyed (its tasks may no longer run)
    std::atomic<bool> destroyed { false }; // the Scope object is gone: aside work saw a stop
    int live = 0;                          // QAyo task frames and running callables (its thread)
    std::atomic<int> asideLive { 0 };      // aside functions running now
    QThread *thread = nullptr;             // where its tasks must resume
};
using TrackPtr = std::shared_ptr<ScopeTrack>;

//! What the stress knows about one after/every registration.
struct ScheduleTrack
{
    QString kind;
    bool stopped = false; // unschedule() or cancel() was called
    int calls = 0;
    QAyo::Scheduled handle;
};

//! The state a QObject owner shares with its tasks: they check it before touching the owner.
struct OwnerState
{
    bool alive = true;
};

struct Settings
{
    quint64 seed = 1;
    qint64 operations = 10000; //!< the quota: the run stops starting episodes once reached
    bool crossThreadSpawns = true;
    bool realClock = false;     //!< sleeps then stay tiny (a few ms)
    int maxLiveFrames = 3000;   //!< no more spawning above this many live frames
    bool soleRun = true;        //!< no other run at the same time: the global task count is ours
};

class Run;
class Owner;

//! Where a work item runs and what it may do.
struct Ctx
{
    QAyo::Scope *scope = nullptr; // alive while a task of it runs
    TrackPtr track {};
    std::shared_ptr<OwnerState> owner {}; // set inside an owner-deletion episode
    Owner *ownerObject = nullptr;      // touched only while owner->alive
    quint64 node = 0;                  // seeds the item's generator
    int depth = 0;
    //! The scope may be destroyed without a join (owner deletion, an interrupted join of a
    //! nested Scope object): its QCoro tasks do not throw. An adopted QCoro task whose scope
    //! dies before it was started is detached, and QCoro drops the error of a detached task.
    bool orphanable = false;
};

//! A QObject owner with its scope as child, the way a widget or backend holds one.
class Owner : public QObject
{
public:
    Owner() : state(std::make_shared<OwnerState>()) {}
    ~Owner() override { state->alive = false; }
    QAyo::Scope *scope = new QAyo::Scope(this);
    std::shared_ptr<OwnerState> state;
    int pokes = 0;
};

//! Counts the library's warnings about errors of orphaned work as observed (installed once).
void installLogObserver();

class Run
{
public:
    explicit Run(Settings settings) : m_settings(settings), m_home(QThread::currentThread())
    {
        installLogObserver();
    }

    //! The driver: runs episodes until the quota is reached, then joins everything.
    QAyo::Task<> drive();
    //! Waits for orphaned work and aside functions to end; false on timeout.
    bool settle(std::chrono::milliseconds grace = 20s);

    //! The checks that can only be made at the end; appended to violations().
    void finalChecks();

    QStringList violations() const
    {
        std::lock_guard lock(m_mutex);
        return m_violations;
    }
    qint64 operations() const { return m_ops; }
    qint64 errorsThrown() const
    {
        std::lock_guard lock(m_mutex);
        return m_thrown.size();
    }
    qint64 episodes() const { return m_episodes; }
    QString summary() const;
    //! Prints the schedules that still hold a scope's exit (to find a hang).
    void dumpSchedules() const;

private:
    // --- bookkeeping ---------------------------------------------------------------------
    void violate(const QString &what);
    TrackPtr newTrack(QAyo::Scope &scope, const QString &label);
    void checkRunnable(const Ctx &ctx, const char *where);
    void observe(const QList<std::exception_ptr> &errors);
    void observeMessage(const QString &message);
    void adoptTrack(QAyo::Scope &scope, const TrackPtr &track, const QString &label);
    //! After a join of \a scope that returned or threw \a error: checks and closes its track.
    void scopeJoined(QAyo::Scope &scope, const TrackPtr &track, const std::exception_ptr &error);
    [[noreturn]] void throwError(const char *where);
    //! co_await scope; then scopeJoined(); rethrows what the join threw.
    QAyo::Task<> joinAndCheck(QAyo::Scope &scope, const TrackPtr &track);
    quint64 nextNode() { return ++m_nodes; }
    bool roomForMore() const { return m_liveFrames < m_settings.maxLiveFrames && m_ops < m_settings.operations; }
    QAyo::ScopeOptions randomOptions(Rng &rng, const QString &name);
    std::chrono::milliseconds shortDelay(Rng &rng, int virtualMax);

    //! Counts a frame (or a running callable) of a scope's task while it lives.
    class Frame
    {
    public:
        Frame(Run *run, Ctx ctx) : m_run(run), m_ctx(std::move(ctx))
        {
            ++m_run->m_liveFrames;
            ++m_ctx.track->live;
        }
        Frame(const Frame &) = delete;
        Frame &operator=(const Frame &) = delete;
        ~Frame()
        {
            --m_run->m_liveFrames;
            --m_ctx.track->live;
        }

    private:
        Run *m_run;
        Ctx m_ctx;
    };

    // --- what runs -----------------------------------------------------------------------
    QAyo::Task<> episode(quint64 node);
    QAyo::Task<> explicitScopeEpisode(Rng &rng, quint64 node);
    QAyo::Task<> blockScopeEpisode(Rng &rng, quint64 node);
    QAyo::Task<> ownerDeletionEpisode(Rng &rng, quint64 node);
    QAyo::Task<> crossThreadEpisode(Rng &rng, quint64 node);
    //! Spawns from another thread into sibling scopes that slots of each other's signals delete.
    QAyo::Task<> crossThreadDeletionEpisode(Rng &rng, quint64 node);

    void spawnRandom(const Ctx &parent, Rng &rng);
    QAyo::Task<> work(Ctx ctx);
    QAyo::Task<int> valueTask(Ctx ctx, int value);
    QCoro::Task<> qcoroWork(Ctx ctx, bool mayThrow);
    void plainCall(const Ctx &ctx, bool fails);
    void spawnLinkedPair(const Ctx &ctx, Rng &rng);
    void asideSpawn(const Ctx &ctx, Rng &rng);
    void scheduleRandom(const Ctx &ctx, Rng &rng);
    QAyo::Task<> nestedScope(Ctx ctx, Rng &rng);
    QAyo::Task<> nestedBlockScope(Ctx ctx, Rng &rng);
    QAyo::Task<> awaitChild(Ctx ctx, Rng &rng);

    Settings m_settings;
    QThread *m_home;
    qint64 m_ops = 0;
    qint64 m_episodes = 0;
    quint64 m_nodes = 0;
    int m_liveFrames = 0;
    std::atomic<int> m_asideLive { 0 };
    mutable std::mutex m_mutex; // guards the three below (aside functions throw on pool threads)
    QSet<quint64> m_thrown;
    QHash<quint64, QString> m_thrownWhere;
    QStringList m_violations;
    QSet<quint64> m_observed;
    QList<std::shared_ptr<ScheduleTrack>> m_schedules;
};

} // namespace Stress
