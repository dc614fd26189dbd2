// SPDX-License-Identifier: MIT
#pragma once

// A FIFO of pointers from which any element can be withdrawn in O(1) (amortized): the queues of
// work waiting for a slot (a scope's maxConcurrency queue, a limiter's waiters). Cancelling many
// waiters in any order - newest first, say - must not search the queue for each one.
//
// Each element stores its position (a counter that grows by one per push; unsigned, so it may
// wrap) in the member PositionMember; position - the front's position is its index. A withdrawn
// element leaves a hole (null): holes at the ends are popped at once, so the queue is empty or
// starts and ends with an element, and the queue is compacted (renumbered) when holes are most of
// it - e.g. a first waiter that waits long while the ones behind it churn.

#include <QtGlobal>

#include <cstddef>
#include <deque>
#include <vector>

namespace QAyo::detail {

template<typename T, typename Position, Position T::*PositionMember>
class WithdrawableQueue
{
public:
    //! True if no element waits (holes never stand at the ends).
    bool isEmpty() const noexcept { return m_items.empty(); }
    //! How many elements wait.
    std::size_t count() const noexcept { return m_items.size() - m_holes; }
    //! The element \a distance places behind the front, or null (a hole, or past the end): for
    //! prefetching only.
    T *peek(std::size_t distance) const noexcept
    {
        return distance < m_items.size() ? m_items[distance] : nullptr;
    }
    //! True if \a item waits in this queue.
    bool contains(const T *item) const noexcept
    {
        const std::size_t index = indexOf(item);
        return index < m_items.size() && m_items[index] == item;
    }

    //! Appends \a item.
    void push(T *item)
    {
        item->*PositionMember = m_end++;
        m_items.push_back(item);
    }
    //! Removes and returns the front element (the queue must not be empty).
    T *pop() noexcept
    {
        T *item = m_items.front();
        m_items.pop_front();
        ++m_first;
        if (Q_UNLIKELY(m_holes != 0))
            dropHoles();
        return item;
    }
    //! Removes \a item if it waits here (returns whether it did).
    bool withdraw(T *item) noexcept
    {
        const std::size_t index = indexOf(item);
        if (index >= m_items.size() || m_items[index] != item)
            return false;
        m_items[index] = nullptr;
        ++m_holes;
        dropHoles();
        if (m_holes > 64 && m_holes * 2 > m_items.size())
            compact();
        return true;
    }
    //! Calls \a f(element) for each waiting element, front to back.
    template<typename F>
    void forEach(F f) const
    {
        for (T *item : m_items) {
            if (item)
                f(item);
        }
    }
    //! Empties the queue.
    void clear() noexcept
    {
        m_items.clear();
        m_first = m_end;
        m_holes = 0;
    }

private:
    std::size_t indexOf(const T *item) const noexcept { return std::size_t(Position(item->*PositionMember - m_first)); }
    void dropHoles() noexcept
    {
        while (!m_items.empty() && !m_items.front()) {
            m_items.pop_front();
            ++m_first;
            --m_holes;
        }
        while (!m_items.empty() && !m_items.back()) {
            m_items.pop_back();
            --m_end;
            --m_holes;
        }
    }
    void compact() noexcept
    {
        std::erase(m_items, nullptr);
        m_holes = 0;
        m_end = m_first;
        for (T *item : m_items)
            item->*PositionMember = m_end++;
    }

    std::deque<T *> m_items;
    Position m_first = 0; // the position of m_items.front()
    Position m_end = 0;   // m_first + m_items.size()
    std::size_t m_holes = 0;
};

} // namespace QAyo::detail
