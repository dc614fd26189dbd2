// SPDX-License-Identifier: MIT
// The randomized stress run (see stress.h for what it does and checks).
#include "stress.h"

#include <optional>

namespace Stress {

namespace {

QString idsOf(const QSet<quint64> &ids)
{
    QList<quint64> sorted(ids.begin(), ids.end());
    std::sort(sorted.begin(), sorted.end());
    QStringList parts;
    for (qsizetype i = 0; i < sorted.size() && i < 20; ++i)
        parts << QString::number(sorted.at(i));
    if (sorted.size() > 20)
        parts << QStringLiteral("...");
    return parts.join(QLatin1Char(','));
}

//! A capture that, when destroyed with its callable (after the call, or when a cancel or the
//! scope's destruction drops the unstarted task), cancels a sibling task and maybe the scope: user
//! code the library runs while it drops work.
struct CancelsOnDestruction
{
    CancelsOnDestruction(std::shared_ptr<QAyo::Handle<void>> sibling, QAyo::Scope *scope)
        : sibling(std::move(sibling)), scope(scope)
    {
    }
    CancelsOnDestruction(CancelsOnDestruction &&other) noexcept
        : sibling(std::move(other.sibling)), scope(std::exchange(other.scope, nullptr))
    {
    }
    ~CancelsOnDestruction()
    {
        if (sibling && sibling->isValid())
            sibling->cancel();
        if (scope)
            scope->cancel();
    }
    std::shared_ptr<QAyo::Handle<void>> sibling;
    QPointer<QAyo::Scope> scope;
};

//! Simulated blocking work on a pool thread: a little arithmetic, ending early on a stop
//! request. (No yields or sleeps: on a loaded machine they would make the run wait for nothing.)
void busyWork(const QAyo::StopToken &stop, int rounds)
{
    volatile quint64 sink = 0;
    for (int i = 0; i < rounds * 50 && !stop.stop_requested(); ++i) {
        for (int j = 0; j < 100; ++j)
            sink = sink + quint64(i * j);
    }
}

//! The id in "stress error #<id>" inside \a text. (No QRegularExpression: PCRE2's JIT reads past
//! the end of strings in ways valgrind reports.)
std::optional<quint64> stressErrorId(const QString &text)
{
    static const QLatin1String marker("stress error #");
    const qsizetype at = text.indexOf(marker);
    if (at < 0)
        return std::nullopt;
    qsizetype end = at + marker.size();
    while (end < text.size() && text.at(end).isDigit())
        ++end;
    bool ok = false;
    const quint64 id = text.mid(at + marker.size(), end - at - marker.size()).toULongLong(&ok);
    return ok ? std::optional<quint64>(id) : std::nullopt;
}

//! Error ids are unique across runs (runs on several threads log into one place).
std::atomic<quint64> nextErrorId { 0 };

//! Ids named in qayo.* warnings: where the error of work orphaned by a destroyed scope shows.
std::mutex loggedMutex;
QSet<quint64> loggedErrors;
QtMessageHandler previousHandler = nullptr;

void collectLoggedErrors(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (type == QtWarningMsg && context.category && qstrncmp(context.category, "qayo.", 5) == 0
        && message.contains(QLatin1String("failed after its scope was destroyed"))) {
        if (const std::optional<quint64> id = stressErrorId(message)) {
            std::lock_guard lock(loggedMutex);
            loggedErrors.insert(*id);
            return; // expected: counted, not printed
        }
    }
    if (previousHandler)
        previousHandler(type, context, message);
}

} // namespace

void installLogObserver()
{
    static std::once_flag once;
    std::call_once(once, [] { previousHandler = qInstallMessageHandler(collectLoggedErrors); });
}

// --- bookkeeping -------------------------------------------------------------------------------

void Run::violate(const QString &what)
{
    std::lock_guard lock(m_mutex);
    if (m_violations.size() < 5)
        qWarning().noquote() << "stress violation:" << what;
    if (m_violations.size() < 200)
        m_violations << QStringLiteral("seed %1: %2").arg(m_settings.seed).arg(what);
}

TrackPtr Run::newTrack(QAyo::Scope &scope, const QString &label)
{
    auto track = std::make_shared<ScopeTrack>();
    adoptTrack(scope, track, label);
    return track;
}

void Run::adoptTrack(QAyo::Scope &scope, const TrackPtr &track, const QString &label)
{
    track->label = label;
    track->thread = scope.thread();
    // Every failure of every scope: the block form's join rethrows only the first error, so the
    // signal is where the later ones of a block scope can be seen.
    QObject::connect(&scope, &QAyo::Scope::taskFailed, &scope,
                     [this](const QString &message) { observeMessage(message); });
}

void Run::checkRunnable(const Ctx &ctx, const char *where)
{
    if (ctx.track->finished.load())
        violate(QStringLiteral("%1 ran after its scope (%2) finished").arg(QLatin1String(where), ctx.track->label));
    if (QThread::currentThread() != ctx.track->thread)
        violate(QStringLiteral("%1 ran outside its scope's thread").arg(QLatin1String(where)));
    if (ctx.owner && !ctx.owner->alive)
        violate(QStringLiteral("%1 ran after its owner was deleted").arg(QLatin1String(where)));
}

void Run::observe(const QList<std::exception_ptr> &errors)
{
    for (const std::exception_ptr &error : errors) {
        try {
            std::rethrow_exception(error);
        } catch (const StressError &e) {
            std::lock_guard lock(m_mutex);
            m_observed.insert(e.id());
        } catch (...) {
            // TimeoutError of a timeoutThrows scope and the like: not thrown by the stress.
        }
    }
}

void Run::observeMessage(const QString &message)
{
    if (const std::optional<quint64> id = stressErrorId(message)) {
        std::lock_guard lock(m_mutex);
        m_observed.insert(*id);
    }
}

void Run::scopeJoined(QAyo::Scope &scope, const TrackPtr &track, const std::exception_ptr &error)
{
    if (!scope.isFinished()) {
        // The join did not return: it was interrupted by a cancel of the joining task (a Scope
        // object joined from a task is not nested in it; only the block form is). Its frame
        // unwinds now and destroys the scope with whatever still runs in it.
        bool cancelled = false;
        try {
            if (error)
                std::rethrow_exception(error);
        } catch (const QAyo::Cancelled &) {
            cancelled = true;
        } catch (...) {
        }
        if (!cancelled)
            violate(QStringLiteral("the join of %1 ended without finishing the scope, and not by Cancelled").arg(track->label));
        observe(scope.errors());
        track->finished = true;
        return;
    }
    if (track->live != 0)
        violate(QStringLiteral("the join of %1 returned with %2 task(s) still alive").arg(track->label).arg(track->live));
    if (track->asideLive.load() != 0)
        violate(QStringLiteral("the join of %1 returned with aside work still running").arg(track->label));
    track->finished = true;
    observe(scope.errors());
}

void Run::throwError(const char *where)
{
    const quint64 id = ++nextErrorId;
    {
        std::lock_guard lock(m_mutex);
        m_thrown.insert(id);
        m_thrownWhere.insert(id, QLatin1String(where));
    }
    throw StressError(id);
}

QAyo::ScopeOptions Run::randomOptions(Rng &rng, const QString &name)
{
    QAyo::ScopeOptions options;
    options.name = name;
    if (rng.chance(40))
        options.maxConcurrency = 1 + rng.below(4);
    if (rng.chance(25)) {
        options.timeout = std::chrono::milliseconds(1 + rng.below(m_settings.realClock ? 5 : 30));
        options.timeoutThrows = rng.chance(50);
    }
    options.supervise = rng.chance(25);
    options.collectResults = rng.chance(50);
    return options;
}

std::chrono::milliseconds Run::shortDelay(Rng &rng, int virtualMax)
{
    return std::chrono::milliseconds(rng.below(m_settings.realClock ? 3 : virtualMax + 1));
}

QString Run::summary() const
{
    qsizetype logged = 0;
    {
        std::lock_guard lock(loggedMutex);
        logged = loggedErrors.size();
    }
    std::lock_guard lock(m_mutex);
    return QStringLiteral("seed %1: %2 operations in %3 episodes, %4 errors thrown, %5 observed by joins, "
                          "errors() and taskFailed (%6 orphaned errors logged by the library, all runs), %7 violation(s)")
        .arg(m_settings.seed)
        .arg(m_ops)
        .arg(m_episodes)
        .arg(m_thrown.size())
        .arg(m_observed.size())
        .arg(logged)
        .arg(m_violations.size());
}

void Run::dumpSchedules() const
{
    const auto now = QAyo::Clock::current()->now();
    for (const auto &schedule : m_schedules) {
        if (!schedule->handle.isActive() && !schedule->handle.holdsExit())
            continue;
        const auto due = schedule->handle.nextDue();
        qWarning().noquote() << "schedule" << schedule->kind << "calls" << schedule->calls
                             << "stopped" << schedule->stopped << "active" << schedule->handle.isActive()
                             << "holdsExit" << schedule->handle.holdsExit() << "skipped"
                             << schedule->handle.skippedTicks() << "due in ms"
                             << (due ? std::chrono::duration_cast<std::chrono::milliseconds>(*due - now).count() : -1);
    }
}

bool Run::settle(std::chrono::milliseconds grace)
{
    // Work orphaned by an owner's deletion (aside functions, QCoro tasks, tasks suspended on a
    // foreign awaitable) ends on its own, later.
    return TestHelpers::spinUntil(
        [this] {
            return m_liveFrames == 0 && m_asideLive.load() == 0
                && (!m_settings.soleRun || QAyo::Test::unfinishedTasks() == 0);
        },
        grace);
}

void Run::finalChecks()
{
    if (m_liveFrames != 0)
        violate(QStringLiteral("%1 task frame(s) still alive at the end").arg(m_liveFrames));
    if (m_asideLive.load() != 0)
        violate(QStringLiteral("%1 aside function(s) still running at the end").arg(m_asideLive.load()));
    if (const int left = QAyo::Test::unfinishedTasks(); m_settings.soleRun && left != 0)
        violate(QStringLiteral("%1 QAyo task(s) unfinished at the end").arg(left));
    if (m_ops < m_settings.operations)
        violate(QStringLiteral("only %1 of %2 operations ran").arg(m_ops).arg(m_settings.operations));
    QSet<quint64> lost, invented;
    {
        std::lock_guard lock(m_mutex);
        lost = m_thrown - m_observed;
        invented = m_observed - m_thrown;
    }
    {
        // Errors of work that outlived its destroyed scope reach no join: the library logs them.
        std::lock_guard lock(loggedMutex);
        lost -= loggedErrors;
    }
    if (!lost.isEmpty()) {
        QStringList where;
        for (quint64 id : std::as_const(lost))
            where << m_thrownWhere.value(id);
        violate(QStringLiteral("%1 error(s) thrown and never observed: %2 (thrown in: %3)")
                    .arg(lost.size()).arg(idsOf(lost), where.mid(0, 10).join(QLatin1String(", "))));
    }
    if (!invented.isEmpty())
        violate(QStringLiteral("%1 error(s) observed but never thrown: %2").arg(invented.size()).arg(idsOf(invented)));
    for (const auto &schedule : std::as_const(m_schedules))
        schedule->handle = {};
    m_schedules.clear();
}

QAyo::Task<> Run::joinAndCheck(QAyo::Scope &scope, const TrackPtr &track)
{
    std::exception_ptr error;
    try {
        co_await scope;
    } catch (...) {
        error = std::current_exception();
    }
    scopeJoined(scope, track, error);
    if (error)
        std::rethrow_exception(error);
}

// --- the driver and the episodes ---------------------------------------------------------------

QAyo::Task<> Run::drive()
{
    QAyo::Scope root({ .maxConcurrency = 8, .supervise = true, .name = QStringLiteral("stress-root") });
    const TrackPtr rootTrack = newTrack(root, QStringLiteral("root"));
    while (m_ops < m_settings.operations) {
        if (root.pendingCount() < 2 && m_liveFrames < m_settings.maxLiveFrames)
            root.asap(episode(nextNode()));
        else
            co_await QAyo::sleep(1ms);
    }
    co_await root;
    scopeJoined(root, rootTrack, {});
}

QAyo::Task<> Run::episode(quint64 node)
{
    ++m_episodes;
    ++m_ops;
    Rng rng(m_settings.seed, node);
    const int kind = rng.below(100);
    if (kind < 40)
        co_await explicitScopeEpisode(rng, node);
    else if (kind < 65)
        co_await blockScopeEpisode(rng, node);
    else if (kind < 90 || !m_settings.crossThreadSpawns)
        co_await ownerDeletionEpisode(rng, node);
    else if (rng.chance(50))
        co_await crossThreadEpisode(rng, node);
    else
        co_await crossThreadDeletionEpisode(rng, node);
}

QAyo::Task<> Run::explicitScopeEpisode(Rng &rng, quint64 node)
{
    QAyo::Scope scope(randomOptions(rng, QStringLiteral("episode-%1").arg(node)));
    const TrackPtr track = newTrack(scope, scope.name());
    const Ctx ctx { .scope = &scope, .track = track, .node = node };
    for (int i = 1 + rng.below(6); i > 0; --i)
        spawnRandom(ctx, rng);
    if (rng.chance(15)) {
        ++m_ops;
        scope.after(shortDelay(rng, 30), [&scope] { scope.cancel(); }).dontHoldExit();
    }
    if (rng.chance(10)) {
        ++m_ops;
        co_await QAyo::sleep(shortDelay(rng, 20));
        scope.cancel();
    }
    co_await joinAndCheck(scope, track);
}

QAyo::Task<> Run::blockScopeEpisode(Rng &rng, quint64 node)
{
    Ctx ctx { .track = std::make_shared<ScopeTrack>(), .node = node };
    ctx.track->thread = QThread::currentThread();
    co_await nestedBlockScope(ctx, rng);
}

QAyo::Task<> Run::ownerDeletionEpisode(Rng &rng, quint64 node)
{
    auto *owner = new Owner;
    owner->scope->setName(QStringLiteral("owned-%1").arg(node));
    const TrackPtr track = newTrack(*owner->scope, owner->scope->name());
    Ctx ctx { .scope = owner->scope, .track = track, .owner = owner->state, .ownerObject = owner, .node = node,
              .orphanable = true };
    for (int i = 2 + rng.below(6); i > 0; --i)
        spawnRandom(ctx, rng);
    co_await QAyo::sleep(shortDelay(rng, 30)); // the owned work runs meanwhile
    ++m_ops;
    observe(owner->scope->errors());
    track->finished = true; // from here nothing of it may run
    delete owner;
    track->destroyed = true;
}

QAyo::Task<> Run::crossThreadEpisode(Rng &rng, quint64 node)
{
    QAyo::ScopeOptions options = randomOptions(rng, QStringLiteral("cross-thread-%1").arg(node));
    QAyo::Scope scope(options);
    const TrackPtr track = newTrack(scope, scope.name());
    const Ctx ctx { .scope = &scope, .track = track, .node = node };
    const int n = 20 + rng.below(100);
    const quint64 firstNode = m_nodes + 1;
    m_nodes += quint64(n);
    m_ops += n;
    QList<bool> fails(n);
    for (int i = 0; i < n; ++i)
        fails[i] = rng.chance(3);
    const bool cancelFromThere = rng.chance(20);
    std::thread spawner([&] {
        for (int i = 0; i < n; ++i) {
            Ctx c = ctx;
            c.node = firstNode + quint64(i);
            c.depth = 4; // no deep trees from here: the point is the hand-over
            const bool f = fails.at(i);
            switch (i % 4) {
            case 0:
                scope.asap([this, c, f] { plainCall(c, f); });
                break;
            case 1:
                scope.asap(work(c));
                break;
            case 2:
                scope.asap([this, c] { return work(c); });
                break;
            default:
                scope.after(0ms, [this, c, f] { plainCall(c, f); });
                break;
            }
            if (cancelFromThere && i == n / 2)
                scope.cancel();
        }
    });
    spawner.join();
    co_await joinAndCheck(scope, track);
}

QAyo::Task<> Run::crossThreadDeletionEpisode(Rng &rng, quint64 node)
{
    // Sibling scopes on this thread; another thread spawns into all of them while this one is
    // blocked, so the spawns arrive in one delivery. Slots of their signals delete siblings
    // (the way a widget closes a panel): a spawn whose scope is deleted before it arrives ends as
    // cancelled, and nothing may touch the deleted scope.
    const int count = 2 + rng.below(3);
    struct Sibling
    {
        QPointer<QAyo::Scope> scope;
        TrackPtr track;
    };
    std::vector<Sibling> siblings(count);
    for (int i = 0; i < count; ++i) {
        auto *scope = new QAyo::Scope(randomOptions(rng, QStringLiteral("sibling-%1-%2").arg(node).arg(i)));
        siblings[i] = { scope, newTrack(*scope, scope->name()) };
    }
    const auto deleteSibling = [this, &siblings](int victim) {
        Sibling &s = siblings[victim];
        if (!s.scope)
            return;
        QObject::disconnect(s.scope, nullptr, s.scope, nullptr); // its slots use this frame
        observe(s.scope->errors());
        s.track->finished = true; // from here nothing of it may run
        delete s.scope.data();
        s.track->destroyed = true;
    };
    // The episode may be destroyed unfinished (a cancel): the siblings go with it.
    struct DeleteLeftovers
    {
        std::vector<Sibling> &siblings;
        std::function<void(int)> deleteSibling;
        ~DeleteLeftovers()
        {
            for (int i = 0; i < int(siblings.size()); ++i)
                deleteSibling(i);
        }
    } leftovers { siblings, deleteSibling };
    for (int i = 0; i < count; ++i) {
        const int victim = rng.below(count);
        if (victim == i || !rng.chance(60))
            continue;
        ++m_ops;
        QAyo::Scope *scope = siblings[i].scope;
        const auto slot = [deleteSibling, victim] { deleteSibling(victim); };
        switch (rng.below(3)) {
        case 0:
            QObject::connect(scope, &QAyo::Scope::started, scope, slot);
            break;
        case 1:
            QObject::connect(scope, &QAyo::Scope::pendingChanged, scope, slot);
            break;
        default:
            QObject::connect(scope, &QAyo::Scope::taskFinished, scope, slot);
            break;
        }
    }
    const int n = 4 + rng.below(30);
    const quint64 firstNode = m_nodes + 1;
    m_nodes += quint64(n);
    m_ops += n;
    std::vector<Ctx> targets;
    for (const Sibling &s : siblings)
        targets.push_back({ .scope = s.scope, .track = s.track, .node = 0, .depth = 4, .orphanable = true });
    std::vector<QAyo::Handle<void>> handles(n);
    std::thread spawner([&] {
        for (int i = 0; i < n; ++i) {
            Ctx c = targets[i % count];
            c.node = firstNode + quint64(i);
            if (i % 2)
                handles[i] = c.scope->asap([this, c] { plainCall(c, false); });
            else
                handles[i] = c.scope->asap(work(c));
        }
    });
    spawner.join();
    // Every spawn ends: run, or cancelled with its deleted scope.
    for (int rounds = 0; rounds < 10000; ++rounds) {
        if (std::all_of(handles.begin(), handles.end(), [](const auto &h) { return h.isFinished(); }))
            break;
        co_await QAyo::sleep(1ms);
    }
    for (int i = 0; i < n; ++i) {
        if (!handles[i].isFinished())
            violate(QStringLiteral("cross-thread spawn %1 into a sibling scope never ended").arg(firstNode + quint64(i)));
    }
    for (Sibling &s : siblings) {
        if (s.scope)
            QObject::disconnect(s.scope, nullptr, s.scope, nullptr); // no deletion during the joins
    }
    for (Sibling &s : siblings) {
        if (!s.scope)
            continue;
        co_await joinAndCheck(*s.scope, s.track);
        delete s.scope.data();
    }
}

// --- work items --------------------------------------------------------------------------------

void Run::spawnRandom(const Ctx &parent, Rng &rng)
{
    if (parent.depth >= 5 || !roomForMore())
        return;
    ++m_ops;
    Ctx c = parent;
    c.node = nextNode();
    c.depth = parent.depth + 1;
    QAyo::Scope *scope = parent.scope;
    switch (rng.below(10)) {
    case 0:
    case 1:
        scope->asap(work(c)); // a QAyo::Task, frame made now, started later
        break;
    case 2:
        scope->asap([this, c] { return work(c); }); // lazy: the frame is made when it starts
        break;
    case 3:
        scope->asap([this, c, fails = rng.chance(10)] { plainCall(c, fails); });
        break;
    case 4:
        scope->asap([this, c, fails = rng.chance(10)] {
            plainCall(c, fails);
            return 7;
        });
        break;
    case 5: {
        const bool mayThrow = !c.orphanable && rng.chance(15);
        scope->asap(qcoroWork(c, mayThrow)); // eager: runs until its first suspension now
        break;
    }
    case 6:
        asideSpawn(c, rng);
        break;
    case 7:
        scheduleRandom(c, rng);
        break;
    case 8:
        spawnLinkedPair(c, rng);
        break;
    default:
        scope->asap(valueTask(c, 5));
        break;
    }
}

void Run::spawnLinkedPair(const Ctx &ctx, Rng &rng)
{
    // Two callables whose captures cancel each other's task when they are destroyed; one of them
    // sometimes cancels the scope too. Under maxConcurrency both wait in the queue, where a cancel
    // of the scope, its destruction or Handle::cancel() drops them one after the other.
    auto first = std::make_shared<QAyo::Handle<void>>();
    auto second = std::make_shared<QAyo::Handle<void>>();
    QAyo::Scope *cancelsScope = rng.chance(10) ? ctx.scope : nullptr;
    *first = ctx.scope->asap([this, ctx, link = CancelsOnDestruction(second, cancelsScope)] { plainCall(ctx, false); });
    *second = ctx.scope->asap([this, ctx, link = CancelsOnDestruction(first, nullptr)] { plainCall(ctx, false); });
    switch (rng.below(4)) {
    case 0:
        first->cancel();
        break;
    case 1:
        second->cancel();
        break;
    default:
        break;
    }
}

void Run::plainCall(const Ctx &ctx, bool fails)
{
    Frame frame(this, ctx);
    checkRunnable(ctx, "callable");
    if (fails)
        throwError(ctx.owner ? "callable (owned)" : "callable");
}

QAyo::Task<int> Run::valueTask(Ctx ctx, int value)
{
    Frame frame(this, ctx);
    checkRunnable(ctx, "value task");
    Rng rng(m_settings.seed, ctx.node);
    co_await QAyo::sleep(shortDelay(rng, 10));
    checkRunnable(ctx, "value task after a sleep");
    if (rng.chance(10))
        throwError("value task");
    co_return value;
}

QCoro::Task<> Run::qcoroWork(Ctx ctx, bool mayThrow)
{
    Frame frame(this, ctx);
    checkRunnable(ctx, "QCoro task");
    co_await QCoro::sleepFor(0ms);
    // A QCoro task cannot be interrupted: the scope waits for it - unless the scope was
    // destroyed (with its owner, or by the unwinding of an interrupted join): then the task runs
    // on detached and touches nothing of it.
    if (!ctx.track->destroyed.load() && !(ctx.owner && !ctx.owner->alive))
        checkRunnable(ctx, "QCoro task after a sleep");
    if (mayThrow)
        throwError("QCoro task");
}

void Run::asideSpawn(const Ctx &ctx, Rng &rng)
{
    const bool fails = rng.chance(10); // orphaned, its error is logged by the library
    const int rounds = rng.below(4);
    TrackPtr track = ctx.track;
    ctx.scope->aside([this, track, fails, rounds](QAyo::StopToken stop) {
        // The pool may have picked the function up just before its scope was destroyed; then it
        // starts late, but with the stop requested (a thread cannot be killed).
        if (track->destroyed.load() && !stop.stop_requested())
            violate(QStringLiteral("an aside function started after its scope (%1) was destroyed, without a stop request").arg(track->label));
        ++track->asideLive;
        ++m_asideLive;
        busyWork(stop, rounds);
        --track->asideLive;
        --m_asideLive;
        if (fails)
            throwError("aside function");
    });
}

void Run::scheduleRandom(const Ctx &ctx, Rng &rng)
{
    auto schedule = std::make_shared<ScheduleTrack>();
    m_schedules.append(schedule); // holds the Scheduled handle; the callbacks hold a raw pointer
    ScheduleTrack *st = schedule.get();
    const int kind = rng.below(100);
    const bool fails = rng.chance(8);
    QAyo::Scope *scope = ctx.scope;
    st->kind = kind < 35 ? QStringLiteral("after") : kind < 55 ? QStringLiteral("async after") : QStringLiteral("every");
    if (kind < 35) {
        st->handle = scope->after(shortDelay(rng, 20), [this, ctx, st, fails] {
            ++st->calls;
            if (st->stopped)
                violate(QStringLiteral("an after() callback fired after unschedule()"));
            plainCall(ctx, fails);
        });
    } else if (kind < 55 && ctx.depth < 5) {
        // A coroutine callback: each call runs as a task of the scope.
        st->handle = scope->after(shortDelay(rng, 20), [this, ctx, st] {
            ++st->calls;
            if (st->stopped)
                violate(QStringLiteral("an async after() callback fired after unschedule()"));
            checkRunnable(ctx, "async after() callback");
            Ctx call = ctx; // a node of its own, one level down: no endless re-scheduling
            call.node = nextNode();
            call.depth = ctx.depth + 1;
            return work(call);
        });
    } else {
        const int interval = 1 + rng.below(m_settings.realClock ? 2 : 8);
        const int maxCalls = 1 + rng.below(4);
        st->handle = scope->every(std::chrono::milliseconds(interval), [this, ctx, st, maxCalls, fails] {
            ++st->calls;
            if (st->stopped)
                violate(QStringLiteral("an every() callback fired after unschedule()"));
            if (st->calls >= maxCalls) {
                st->stopped = true;
                st->handle.unschedule(); // from inside the callback
            }
            plainCall(ctx, fails && st->calls == maxCalls);
        });
        if (rng.chance(15))
            st->handle.dontHoldExit(); // ends with the scope at the latest
    }
    if (rng.chance(20)) {
        st->stopped = true;
        if (rng.chance(50))
            st->handle.unschedule();
        else
            st->handle.cancel();
    }
}

QAyo::Task<> Run::work(Ctx ctx)
{
    Frame frame(this, ctx);
    checkRunnable(ctx, "task");
    Rng rng(m_settings.seed, ctx.node);
    for (int steps = 1 + rng.below(4); steps > 0; --steps) {
        ++m_ops;
        const int action = rng.below(100);
        if (action < 20) {
            co_await QAyo::sleep(shortDelay(rng, 20));
        } else if (action < 28) {
            co_await QAyo::checkpoint();
        } else if (action < 42) {
            spawnRandom(ctx, rng);
        } else if (action < 50) {
            if (ctx.depth < 5 && roomForMore())
                co_await nestedScope(ctx, rng);
        } else if (action < 56) {
            if (ctx.depth < 5 && roomForMore())
                co_await nestedBlockScope(ctx, rng);
        } else if (action < 62) {
            co_await awaitChild(ctx, rng);
        } else if (action < 67) {
            const int value = co_await QAyo::aside([](QAyo::StopToken stop, int x) {
                busyWork(stop, 1);
                return x * 2;
            }, 21);
            if (value != 42)
                violate(QStringLiteral("co_await QAyo::aside returned %1, not 42").arg(value));
        } else if (action < 73) {
            scheduleRandom(ctx, rng);
        } else if (action < 79) {
            try {
                co_await QAyo::withTimeout(shortDelay(rng, 10), QAyo::sleep(shortDelay(rng, 10)));
            } catch (const QAyo::TimeoutError &) {
                // the sleep was the longer one
            }
        } else if (action < 83) {
            co_await QAyo::shield(QAyo::sleep(shortDelay(rng, 5)));
        } else if (action < 87) {
            co_await QCoro::sleepFor(0ms); // a foreign await
        } else if (action < 95) {
            throwError(ctx.owner ? "task (owned)" : "task");
        } else if (action < 97) {
            ctx.scope->cancel(); // the task's own scope, siblings and all
        } else {
            co_await QAyo::checkpoint();
        }
        checkRunnable(ctx, "task after an await");
        if (ctx.owner && ctx.owner->alive)
            ++ctx.ownerObject->pokes; // the classic: touching the owner after an await
    }
}

QAyo::Task<> Run::nestedScope(Ctx ctx, Rng &rng)
{
    const TrackPtr track = std::make_shared<ScopeTrack>();
    struct MarkDestroyed // destroyed after `inner`
    {
        TrackPtr track;
        ~MarkDestroyed() { track->destroyed = true; }
    } markDestroyed { track };
    // Half of them are QObject children of the task's scope (nested: its cancel reaches them).
    QAyo::Scope inner(randomOptions(rng, QStringLiteral("nested-%1").arg(ctx.node)),
                      rng.chance(50) ? ctx.scope : nullptr);
    adoptTrack(inner, track, inner.name());
    Ctx c = ctx;
    c.scope = &inner;
    c.track = track;
    c.depth = ctx.depth + 1;
    c.orphanable = true;
    for (int i = 1 + rng.below(4); i > 0; --i)
        spawnRandom(c, rng);
    co_await joinAndCheck(inner, track);
}

QAyo::Task<> Run::nestedBlockScope(Ctx ctx, Rng &rng)
{
    const QAyo::ScopeOptions options = randomOptions(rng, QStringLiteral("block-%1").arg(ctx.node));
    const quint64 bodyNode = nextNode();
    const int children = 1 + rng.below(3);
    TrackPtr track;
    std::exception_ptr error;
    try {
        QAyo::ScopeOutcome outcome = co_await QAyo::scope(options, [&, this](QAyo::Scope &s) -> QAyo::Task<> {
            track = newTrack(s, s.name());
            Ctx c = ctx;
            c.scope = &s;
            c.track = track;
            c.depth = ctx.depth + 1;
            c.node = bodyNode;
            Frame frame(this, c); // the body is a task of the block scope
            checkRunnable(c, "block body");
            Rng bodyRng(m_settings.seed, bodyNode);
            for (int i = children; i > 0; --i)
                spawnRandom(c, bodyRng);
            co_await QAyo::sleep(shortDelay(bodyRng, 10));
            checkRunnable(c, "block body after a sleep");
            if (bodyRng.chance(5))
                throwError("block body");
        });
        observe(outcome.errors);
    } catch (...) {
        error = std::current_exception();
    }
    if (track) {
        if (track->live != 0)
            violate(QStringLiteral("the block scope %1 returned with %2 task(s) alive").arg(track->label).arg(track->live));
        if (track->asideLive.load() != 0)
            violate(QStringLiteral("the block scope %1 returned with aside work running").arg(track->label));
        track->finished = true;
    }
    if (error)
        std::rethrow_exception(error);
}

QAyo::Task<> Run::awaitChild(Ctx ctx, Rng &rng)
{
    // Awaiting a child that waits for this task's slot would deadlock (a user error, not a
    // library one): only in scopes without a limit.
    if (ctx.depth >= 5 || !roomForMore() || ctx.scope->maxConcurrency() != 0)
        co_return;
    ++m_ops;
    Ctx c = ctx;
    c.node = nextNode();
    c.depth = ctx.depth + 1;
    const int value = rng.below(1000);
    QAyo::Handle<int> child = ctx.scope->asap(valueTask(c, value));
    if (rng.chance(15))
        child.cancel(); // this child only
    try {
        const int got = co_await child;
        if (got != value)
            violate(QStringLiteral("a handle gave %1 instead of %2").arg(got).arg(value));
    } catch (const QAyo::TaskCancelledError &) {
        // the child was cancelled (by its handle or its scope): fine, this task goes on
    }
}

} // namespace Stress
