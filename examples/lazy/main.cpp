// SPDX-License-Identifier: MIT
// Lazy spawning for memory: 10,000 jobs in a scope that runs 100 at a time.
//
//   run.asap(f)         keeps the callable f (here a lambda calling job(id)); the coroutine
//                       frame is made only when a slot frees, so at most 100 frames exist at once
//                       (run.asap(f, args...) and run.fromCallable(f, args...) are lazy too);
//   run << job(id)      calls job(id) now: a QAyo::Task *is* a coroutine frame, so all 10,000
//                       frames exist from the start.
//
// Counts the coroutine frames alive with a parameter that lives in the frame.
#include <QAyo/QAyo>

#include <QTextStream>

using namespace std::chrono_literals;

namespace {
QTextStream out(stdout);

//! Counts coroutine frames. A coroutine copies its parameters into its frame: the copy (made
//! by the copy constructor) lives exactly as long as the frame; the argument itself is not counted.
struct FrameCounter
{
    static inline int alive = 0;
    static inline int most = 0;
    bool inFrame = false;
    FrameCounter() = default;
    FrameCounter(const FrameCounter &) : inFrame(true) { most = std::max(most, ++alive); }
    ~FrameCounter()
    {
        if (inFrame)
            --alive;
    }
};

QAyo::Task<> job(int id, FrameCounter = {})
{
    co_await QAyo::sleep(1ms);
    static_cast<void>(id);
}

constexpr int jobs = 10'000;
} // namespace

int main(int argc, char **argv)
{
    return QAyo::runAsMain(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> {
        out << jobs << " jobs, at most 100 at a time\n";

        FrameCounter::most = 0;
        co_await QAyo::scope({.maxConcurrency = 100}, [](QAyo::Scope &run) {
            for (int id = 0; id < jobs; ++id)
                run.asap([id] { return job(id); }); // lazy: job(id) is called when a slot is free
        });
        out << "run.asap(callable): at most " << FrameCounter::most << " coroutine frames at once\n";
        out.flush();

        FrameCounter::most = 0;
        co_await QAyo::scope({.maxConcurrency = 100}, [](QAyo::Scope &run) {
            for (int id = 0; id < jobs; ++id)
                run << job(id); // eager: the frame exists from here on
        });
        out << "run << job(id):     at most " << FrameCounter::most << " coroutine frames at once\n";
        out.flush();
    });
}
