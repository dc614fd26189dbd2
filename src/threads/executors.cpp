// SPDX-License-Identifier: MIT
#include <QAyo/aside.h>
#include <QAyo/errors.h>

#include <QHash>
#include <QObject>
#include <QMutex>

#include <memory>

namespace QAyo {

namespace {
struct Entry
{
    QThreadPool *pool = nullptr;
    std::shared_ptr<QThreadPool> owned; // set when Executors::create() made the pool
    QMetaObject::Connection destroyed;  // add(): unregisters the pool when it is deleted
};

struct Registry
{
    QMutex mutex;
    QHash<QString, Entry> entries;
};

Registry &registry()
{
    static Registry instance;
    return instance;
}

void checkName(const QString &name, const char *operation)
{
    if (name.isEmpty())
        throw InvalidArgument(QStringLiteral("Executors::%1: the name is empty").arg(QLatin1String(operation)));
}
} // namespace

QThreadPool *Executors::create(const QString &name, int maxThreads)
{
    checkName(name, "create");
    if (maxThreads < 1)
        throw InvalidArgument(QStringLiteral("Executors::create: maxThreads must be >= 1, got %1").arg(maxThreads));
    auto pool = std::make_shared<QThreadPool>();
    pool->setMaxThreadCount(maxThreads);
    pool->setObjectName(name);
    Registry &r = registry();
    QMutexLocker lock(&r.mutex);
    if (r.entries.contains(name))
        throw InvalidArgument(QStringLiteral("Executors::create: an executor named '%1' exists already").arg(name));
    r.entries.insert(name, Entry{pool.get(), pool, {}});
    return pool.get();
}

void Executors::add(const QString &name, QThreadPool *pool)
{
    checkName(name, "add");
    if (!pool)
        throw InvalidArgument(QStringLiteral("Executors::add: the pool for '%1' is null").arg(name));
    Registry &r = registry();
    QMutexLocker lock(&r.mutex);
    if (r.entries.contains(name))
        throw InvalidArgument(QStringLiteral("Executors::add: an executor named '%1' exists already").arg(name));
    // Not owned: when the pool is deleted, find() must not hand out the dangling pointer. The
    // slot runs in ~QObject on the deleting thread (direct connection), under the lock; the
    // entry goes only if it still names this pool (the name may have been reused meanwhile).
    auto unregister = [name, pool] {
        Registry &r = registry();
        QMutexLocker lock(&r.mutex);
        auto it = r.entries.find(name);
        if (it != r.entries.end() && it->pool == pool)
            r.entries.erase(it);
    };
    QMetaObject::Connection destroyed = QObject::connect(pool, &QObject::destroyed, unregister);
    r.entries.insert(name, Entry{pool, nullptr, destroyed});
}

QThreadPool *Executors::find(const QString &name)
{
    Registry &r = registry();
    QMutexLocker lock(&r.mutex);
    auto it = r.entries.constFind(name);
    return it == r.entries.cend() ? nullptr : it->pool;
}

QThreadPool *Executors::get(const QString &name)
{
    if (QThreadPool *pool = find(name))
        return pool;
    throw InvalidArgument(QStringLiteral("asideIn: no executor named '%1' (see QAyo::Executors::create)").arg(name));
}

bool Executors::remove(const QString &name)
{
    std::shared_ptr<QThreadPool> owned;
    {
        Registry &r = registry();
        QMutexLocker lock(&r.mutex);
        auto it = r.entries.find(name);
        if (it == r.entries.end())
            return false;
        owned = std::move(it->owned);
        QObject::disconnect(it->destroyed);
        r.entries.erase(it);
    }
    if (owned)
        owned->waitForDone(); // outside the lock: running work may look executors up
    return true;
}

QStringList Executors::names()
{
    Registry &r = registry();
    QMutexLocker lock(&r.mutex);
    return r.entries.keys();
}

} // namespace QAyo
