// SPDX-License-Identifier: MIT
#pragma once

// The pieces every workload shares: how a workload is registered, how time is taken and how the
// event loop is driven. A workload function runs one repetition for n items inside the running
// QCoreApplication and returns the measured wall-clock time; main.cpp repeats it and keeps the
// best.

#include <QString>

#include <chrono>
#include <functional>
#include <vector>

namespace Bench {

using Clock = std::chrono::steady_clock;
using Nanoseconds = std::chrono::nanoseconds;

//! One repetition of a workload for \a n items; returns the measured time.
using RunOnce = std::function<Nanoseconds(int n)>;

//! One figure of a report workload: the name printed in the workload column, and its value.
struct Figure
{
    QString name;
    double value;
};

//! One run of a workload that reports figures other than time per item (e.g. the p50 and p99
//! lateness of a timer in microseconds, for every_jitter). Runs once, not best of N.
using RunReport = std::function<std::vector<Figure>(int n)>;

//! A (workload, implementation) pair, e.g. ("spawn_join", "qayo").
struct Measurement
{
    QString workload;
    QString implementation;
    RunOnce run;
    //! Set instead of run for a report workload (then run is empty).
    RunReport report = {};
    //! Item count of a report workload (it ignores --sizes).
    int fixedN = 0;
};

//! The measurements of each implementation, in the order they are printed.
std::vector<Measurement> qayoMeasurements();
std::vector<Measurement> qcoroMeasurements();
std::vector<Measurement> qtMeasurements();
std::vector<Measurement> qtConcurrentMeasurements();

//! Spins the calling thread's event loop until \a done returns true. Blocks between events (no
//! busy wait, no sleep). Aborts the program with a message if \a what is not done after a
//! generous deadline: a benchmark that hangs is a bug, not a result.
void spinUntil(const std::function<bool()> &done, const char *what);

//! Aborts the program with a message unless \a condition holds (checks that every item ran).
void check(bool condition, const QString &message);

//! The p50 and p99 of \a lateness in microseconds, as figures named \a workload + "_p50"/"_p99".
std::vector<Figure> latenessFigures(const QString &workload, std::vector<Nanoseconds> lateness);

} // namespace Bench
