// SPDX-License-Identifier: MIT
// qayo_bench: runs every workload for every size and implementation, best of N repetitions,
// and prints one line per measurement: workload, n, implementation, ns per task. Report workloads
// (every_jitter) run once for a fixed n and print one line per figure in the same four columns,
// e.g. every_jitter_p99, 200 ticks, qt, microseconds.
//
// Each measurement runs in a fresh child process (this program, started again with
// --in-process --only ...), so no measurement inherits another's state: a timer QAyo's clock
// left armed makes every later QTimer::stop() of Qt 6.4 cost O(timers), and glibc's heap
// trimming depends on what was allocated before (docs/performance.md has the details).
//
//   qayo_bench                          the full set (sizes 10000,100000, best of 3)
//   qayo_bench --sizes 2000 --reps 1    smaller runs
//   qayo_bench --filter limit10/qayo    only the measurements whose "workload/impl" contains it
//   qayo_bench --in-process ...         everything in this process (for valgrind/callgrind)
#include "bench.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QEventLoop>
#include <QProcess>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace Bench {

void spinUntil(const std::function<bool()> &done, const char *what)
{
    bool expired = false;
    QTimer watchdog;
    watchdog.setSingleShot(true);
    QObject::connect(&watchdog, &QTimer::timeout, [&expired] { expired = true; });
    watchdog.start(std::chrono::minutes(2));
    while (!done()) {
        if (expired) {
            std::fprintf(stderr, "qayo_bench: %s did not finish within 2 minutes\n", what);
            std::exit(2);
        }
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents);
    }
}

void check(bool condition, const QString &message)
{
    if (condition)
        return;
    std::fprintf(stderr, "qayo_bench: check failed: %s\n", qPrintable(message));
    std::exit(2);
}

std::vector<Figure> latenessFigures(const QString &workload, std::vector<Nanoseconds> lateness)
{
    check(!lateness.empty(), workload + QStringLiteral(": no samples"));
    std::sort(lateness.begin(), lateness.end());
    // Nearest rank: the smallest sample with at least p of all samples at or below it.
    auto percentile = [&lateness](double p) {
        const auto rank = std::size_t(std::ceil(p * double(lateness.size())));
        const Nanoseconds value = lateness[std::max<std::size_t>(rank, 1) - 1];
        return double(value.count()) / 1000.0;
    };
    return { { workload + QStringLiteral("_p50"), percentile(0.50) },
             { workload + QStringLiteral("_p99"), percentile(0.99) } };
}

} // namespace Bench

namespace {

// The order of the output: workloads as in docs/performance.md, then qayo before baselines.
const QStringList workloadOrder
    = { QStringLiteral("spawn_join"),          QStringLiteral("spawn_hop_join"),
        QStringLiteral("cancel_sleeping"),     QStringLiteral("limit10"),
        QStringLiteral("timers_start_cancel"), QStringLiteral("every_jitter"),
        QStringLiteral("aside_join"),          QStringLiteral("limiter10"),
        QStringLiteral("withdraw_queued") };

QString keyOf(const Bench::Measurement &m)
{
    return m.workload + u'/' + m.implementation;
}

// Lets whatever a repetition left behind (deferred deletes, late events) run before the next one.
void settle()
{
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    QCoreApplication::processEvents(QEventLoop::AllEvents);
}

void printLine(const Bench::Measurement &m, int n, Bench::Nanoseconds best)
{
    std::printf("%s\t%d\t%s\t%.1f\n", qPrintable(m.workload), n, qPrintable(m.implementation),
                double(best.count()) / n);
    std::fflush(stdout);
}

void printFigures(const Bench::Measurement &m, int n)
{
    settle();
    for (const Bench::Figure &figure : m.report(n)) {
        std::printf("%s\t%d\t%s\t%.1f\n", qPrintable(figure.name), n, qPrintable(m.implementation),
                    figure.value);
    }
    std::fflush(stdout);
    settle();
}

Bench::Nanoseconds measureHere(const Bench::Measurement &m, int n, int reps)
{
    auto best = Bench::Nanoseconds::max();
    for (int rep = 0; rep < reps; ++rep) {
        settle();
        best = std::min(best, m.run(n));
    }
    settle();
    return best;
}

// Runs one measurement in a child process and relays its line; exits if the child fails.
void measureInChild(const Bench::Measurement &m, int n, int reps)
{
    QProcess child;
    child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    child.start(QCoreApplication::applicationFilePath(),
                { QStringLiteral("--in-process"), QStringLiteral("--no-header"),
                  QStringLiteral("--only"), keyOf(m), QStringLiteral("--sizes"), QString::number(n),
                  QStringLiteral("--reps"), QString::number(reps) });
    if (!child.waitForFinished(-1) || child.exitStatus() != QProcess::NormalExit
        || child.exitCode() != 0) {
        std::fprintf(stderr, "qayo_bench: the child for %s n=%d failed (%s, exit code %d)\n",
                     qPrintable(keyOf(m)), n, qPrintable(child.errorString()), child.exitCode());
        std::exit(2);
    }
    std::fputs(child.readAllStandardOutput().constData(), stdout);
    std::fflush(stdout);
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("QAyo benchmarks against QCoro and plain Qt"));
    parser.addHelpOption();
    const QCommandLineOption sizesOption(QStringLiteral("sizes"),
                                         QStringLiteral("Comma-separated item counts."),
                                         QStringLiteral("list"), QStringLiteral("10000,100000"));
    const QCommandLineOption repsOption(QStringLiteral("reps"),
                                        QStringLiteral("Repetitions per measurement (best kept)."),
                                        QStringLiteral("count"), QStringLiteral("3"));
    const QCommandLineOption filterOption(
        QStringLiteral("filter"),
        QStringLiteral("Only measurements whose "
                       "\"workload/implementation\" contains it."),
        QStringLiteral("text"));
    const QCommandLineOption onlyOption(QStringLiteral("only"),
                                        QStringLiteral("Only the measurement named exactly so."),
                                        QStringLiteral("workload/implementation"));
    const QCommandLineOption inProcessOption(QStringLiteral("in-process"),
                                             QStringLiteral("Run every measurement in this "
                                                            "process (no child processes)."));
    const QCommandLineOption noHeaderOption(QStringLiteral("no-header"),
                                            QStringLiteral("Do not print the '#' header line."));
    parser.addOptions(
        { sizesOption, repsOption, filterOption, onlyOption, inProcessOption, noHeaderOption });
    parser.process(app);

    QList<int> sizes;
    for (const QString &s : parser.value(sizesOption).split(QLatin1Char(','))) {
        bool ok = false;
        const int n = s.toInt(&ok);
        if (!ok || n <= 0) {
            std::fprintf(stderr, "qayo_bench: --sizes: '%s' is not a positive count\n",
                         qPrintable(s));
            return 2;
        }
        sizes.append(n);
    }
    bool repsOk = false;
    const int reps = parser.value(repsOption).toInt(&repsOk);
    if (!repsOk || reps <= 0) {
        std::fprintf(stderr, "qayo_bench: --reps must be a positive count\n");
        return 2;
    }
    const QString filter = parser.value(filterOption);
    const QString only = parser.value(onlyOption);
    const bool inProcess = parser.isSet(inProcessOption);

    std::vector<Bench::Measurement> all;
    for (auto &&group :
         { Bench::qayoMeasurements(), Bench::qcoroMeasurements(), Bench::qtMeasurements(),
           Bench::qtConcurrentMeasurements() })
        all.insert(all.end(), group.begin(), group.end());
    std::erase_if(all, [&](const Bench::Measurement &m) {
        return (!filter.isEmpty() && !keyOf(m).contains(filter))
            || (!only.isEmpty() && keyOf(m) != only);
    });
    if (all.empty()) {
        std::fprintf(stderr, "qayo_bench: no measurement matches\n");
        return 2;
    }
    std::stable_sort(all.begin(), all.end(), [](const auto &a, const auto &b) {
        return workloadOrder.indexOf(a.workload) < workloadOrder.indexOf(b.workload);
    });

    if (!parser.isSet(noHeaderOption)) {
        std::printf("# workload\tn\timplementation\tns_per_task  (best of %d, %s, %d cores; "
                    "every_jitter_*: microseconds of lateness, one run)\n",
                    reps, inProcess ? "one process" : "one process per line",
                    QThread::idealThreadCount());
        std::fflush(stdout);
    }
    for (const QString &workload : workloadOrder) {
        for (qsizetype i = 0; i < sizes.size(); ++i) {
            for (const Bench::Measurement &m : all) {
                // A report workload has its own n and runs once, whatever --sizes says.
                if (m.workload != workload || (m.report && i > 0))
                    continue;
                const int n = m.report ? m.fixedN : sizes.at(i);
                if (!inProcess)
                    measureInChild(m, n, reps);
                else if (m.report)
                    printFigures(m, n);
                else
                    printLine(m, n, measureHere(m, n, reps));
            }
        }
    }
    return 0;
}
