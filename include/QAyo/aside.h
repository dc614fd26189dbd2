// SPDX-License-Identifier: MIT
#pragma once

// Blocking work aside: run a function on a QThreadPool, await its result on the scope's thread.

#include <QAyo/detail/record.h>
#include <QAyo/handle.h>

#include <QString>
#include <QStringList>
#include <QThreadPool>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>

namespace QAyo {

class Scope;

//! What an aside function receives (as its first parameter, if it takes one) to notice that
//! its task was cancelled or timed out: check stop_requested() between steps.
using StopToken = std::stop_token;

//! Named thread pools for Scope::asideIn("name", ...). Thread-safe.
/*!
 * \code
 * QAyo::Executors::create("notifications", 2);
 * co_await scope.asideIn("notifications", send, message);
 * \endcode
 */
class QAYO_CORE_EXPORT Executors
{
public:
    //! Creates a pool named \a name with \a maxThreads threads (>= 1) and returns it. Throws
    //! InvalidArgument for an empty or taken name or a thread count below 1.
    static QThreadPool *create(const QString &name, int maxThreads);
    //! Registers \a pool (not owned) under \a name. Throws InvalidArgument for a null pool or an
    //! empty or taken name. Deleting the pool unregisters it (find() then returns nullptr, and
    //! asideIn(name) throws the usual InvalidArgument).
    static void add(const QString &name, QThreadPool *pool);
    //! The pool named \a name, or nullptr.
    static QThreadPool *find(const QString &name);
    //! The pool named \a name; throws InvalidArgument naming it if there is none.
    static QThreadPool *get(const QString &name);
    //! Unregisters \a name (waiting for its work and deleting the pool if create() made it).
    //! Returns false if there was no such executor.
    static bool remove(const QString &name);
    //! The registered names.
    static QStringList names();
};

namespace detail {

class AsideQueue;

//! The non-template half of an aside task: queueing for the pool, cancellation, hand-back. It is
//! the record's cancellation hook while the function is queued or running in the pool.
class QAYO_CORE_EXPORT AsideCore final : public CancelHook
{
public:
    using WorkerFunction = void (*)(TaskRecord *record);
    //! \a takesStopToken: f gets a token (otherwise no stop state is allocated for it).
    AsideCore(TaskRecord *record, QThreadPool *pool, WorkerFunction work, bool takesStopToken)
        : m_record(record), m_pool(pool), m_work(work),
          m_stop(takesStopToken ? std::stop_source() : std::stop_source(std::nostopstate))
    {
        m_done.core = this;
    }
    ~AsideCore();

    //! Queues the function for the pool (on the scope's thread).
    void submit();
    //! Requests stop; drops the work if no pool thread has taken it yet.
    void cancelRequested() noexcept override;
    void dropIfUnstarted() noexcept override;
    //! The token handed to the function.
    std::stop_token token() const noexcept { return m_stop.get_token(); }

private:
    friend class AsideQueue;
    void runOnWorker() noexcept;
    void handBack(std::exception_ptr error) noexcept;
    void finishOnHome(std::exception_ptr error) noexcept;

    TaskRecord *m_record;
    QThreadPool *m_pool;
    WorkerFunction m_work;
    std::stop_source m_stop;
    std::uint32_t m_homeId = 0; // the home context's homeId(): the thread may end before the hand-back
    //! The hand-back to a home thread that has ended meets the scope letting the record go
    //! (destroyed): whichever of the two comes second finishes the record (see aside.cpp).
    enum Parting : unsigned char { CameBackToEndedThread = 1, LetGoByScope = 2 };
    std::atomic<unsigned char> m_parting { 0 };
    //! Where the job waits for a pool thread (QAyo's FIFO for m_pool, see src/threads/).
    AsideQueue *m_queue = nullptr;
    // Links and state in that FIFO; guarded by its mutex.
    AsideCore *m_queuePrev = nullptr;
    AsideCore *m_queueNext = nullptr;
    enum class Stage : unsigned char { Created, Queued, Taken, Dropped };
    Stage m_stage = Stage::Created;
    //! Carries the outcome back to the home thread (mail, see src/core/mailbox_p.h).
    struct DoneNode : ReadyNode
    {
        DoneNode() noexcept : ReadyNode(&DoneNode::arrived) {}
        static void arrived(ReadyNode *node) noexcept;
        //! The home thread has ended: the scope is not touched.
        static void orphaned(ReadyNode *node) noexcept;
        AsideCore *core = nullptr;
    };
    DoneNode m_done;
    std::exception_ptr m_error;
};

//! An aside task: f(args...) on a pool; the value lands in the typed record.
template<typename T, typename F, typename ArgTuple>
class AsideRecord final : public TypedRecord<T>
{
public:
    AsideRecord(QThreadPool *pool, F &&f, ArgTuple &&args)
        : m_core(this, pool, &AsideRecord::work, takesStopToken), m_f(std::move(f)), m_args(std::move(args))
    {
    }
    void start() override { m_core.submit(); }
    void releaseWork() noexcept override {}

private:
    //! Whether f(stop_token, args...) is what gets called.
    static constexpr bool takesStopToken = []<typename... A>(std::type_identity<std::tuple<A...>>) {
        return std::is_invocable_v<F &, std::stop_token, A &...>;
    }(std::type_identity<ArgTuple>{});

    static void work(TaskRecord *record)
    {
        auto *self = static_cast<AsideRecord *>(record);
        auto call = [self](auto &...args) -> decltype(auto) {
            if constexpr (takesStopToken)
                return std::invoke(self->m_f, self->m_core.token(), args...);
            else
                return std::invoke(self->m_f, args...);
        };
        if constexpr (std::is_void_v<T>)
            std::apply(call, self->m_args);
        else
            self->value.emplace(std::apply(call, self->m_args));
    }
    AsideCore m_core;
    F m_f;
    ArgTuple m_args;
};

//! The value type of f(args...) or f(stop_token, args...).
template<typename F, typename... Args>
struct AsideValue
{
    static auto probe()
    {
        if constexpr (std::is_invocable_v<F &, std::stop_token, Args &...>)
            return std::type_identity<std::invoke_result_t<F &, std::stop_token, Args &...>>{};
        else
            return std::type_identity<std::invoke_result_t<F &, Args &...>>{};
    }
    using type = typename decltype(probe())::type;
};

//! Callable with (args...) or (stop_token, args...).
template<typename F, typename... Args>
concept AsideCallable = std::is_invocable_v<F &, Args &...> || std::is_invocable_v<F &, std::stop_token, Args &...>;

//! The scope a task record belongs to (nullptr outside a scope).
QAYO_CORE_EXPORT Scope *scopeOf(const TaskRecord *record) noexcept;

} // namespace detail

} // namespace QAyo
