// SPDX-License-Identifier: MIT
#pragma once

// The doubly linked lists the core threads through its own objects (a record's waiters, a
// scope's schedules, ...): no allocation, O(1) removal of any element. Prev and Next are the
// member pointers of the links; a list is its first element (null when empty).

namespace QAyo::detail {

//! Makes \a node the first element of the list that starts at \a first.
template<auto Prev, auto Next, typename Node>
void pushFront(Node *&first, Node *node) noexcept
{
    node->*Prev = nullptr;
    node->*Next = first;
    if (first)
        first->*Prev = node;
    first = node;
}

//! Takes \a node (an element) out of the list that starts at \a first; clears its links.
template<auto Prev, auto Next, typename Node>
void unlinkFrom(Node *&first, Node *node) noexcept
{
    if (node->*Prev)
        (node->*Prev)->*Next = node->*Next;
    else
        first = node->*Next;
    if (node->*Next)
        (node->*Next)->*Prev = node->*Prev;
    node->*Prev = node->*Next = nullptr;
}

} // namespace QAyo::detail
