// SPDX-License-Identifier: MIT
#pragma once

// What the scope needs of a Limiter beyond include/QAyo/limiter.h: a scope keeps the limiter's
// shared state rather than the Limiter pointer, so a limiter destroyed before the scope is
// noticed instead of used after it was freed (docs/limits.md "Lifetime").

#include <QAyo/limiter.h>

#include <QString>

#include <exception>
#include <memory>
#include <optional>
#include <vector>

namespace QAyo::detail {

//! A slot request for a spawn drawing from \a state (a scope's limiter, maybe destroyed by now:
//! then the request is refused when it is made, see ticketRefusal()).
LimiterTicket *makeRecordTicket(const std::shared_ptr<LimiterState> &state);
//! The Limiter object of \a state, or null once it was destroyed (or \a state is null).
Limiter *liveLimiter(LimiterState *state) noexcept;
//! "limiter 'name'" if the Limiter of \a state was destroyed; nothing while it lives.
std::optional<QString> destroyedLimiterLabel(LimiterState *state);
//! True if \a waiting waits for a slot of its limiter that only \a holders hold: every slot
//! lent out is held by one of them (and at least one is). \a label and \a capacity then
//! describe the limiter, for the message.
bool waitsOnlyForHolders(LimiterTicket *waiting, const std::vector<LimiterTicket *> &holders, QString *label,
                         int *capacity);
//! The limiter slots \a caller and the tasks it is nested in (through block scopes, which they
//! join) hold through their scopes: slots none of them can give back while \a caller waits.
std::vector<LimiterTicket *> slotsHeldBy(TaskRecord *caller);
//! True if a new request for a slot of \a state would wait (no slot free, or others wait) and
//! every slot lent out is held by one of \a holders (and at least one is): acquire()'s
//! deadlock rule. \a label and \a capacity then describe the limiter, for the message.
bool newRequestWaitsOnlyForHolders(LimiterState *state, const std::vector<LimiterTicket *> &holders, QString *label,
                                   int *capacity);
//! True if the destroyed limiter refused \a ticket's request (see ticketRefusal()).
bool isTicketRefused(LimiterTicket *ticket) noexcept;
//! The InvalidStateError of a request the destroyed limiter refused (\a who names the
//! requester), or null if \a ticket was not refused.
std::exception_ptr ticketRefusal(LimiterTicket *ticket, const QString &who);

} // namespace QAyo::detail
