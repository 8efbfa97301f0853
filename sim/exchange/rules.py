"""Scenario control: targeted rules that decide what happens to particular orders.

A scenario says *which* order misbehaves (the hedge, the third child, anything tagged `rv`) and
*how* (rejected, held, partly filled, filled late, sent into an unknown outcome, delayed):

    exchange.add_rule(OrderRule(match(tag_prefix="rv"), reject("RMS: margin exceeds")))
    exchange.add_rule(OrderRule(match(tradingsymbol=sym, side=Side.BUY, nth=2), hold(), once=False))

Rules are checked in the order they were added when an order is placed; the first that matches
decides. A one-shot rule (the default) is removed after it has acted once.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Union

from brokers.port import OrderRequest
from domain.model import Side


@dataclass(frozen=True, slots=True)
class OrderMatch:
    """All given fields must match. `nth` counts orders matching the other fields (1-based)."""

    tradingsymbol: str | None = None
    side: Side | None = None
    tag_prefix: str | None = None
    account: str | None = None
    nth: int | None = None

    def fields_match(self, account: str, request: OrderRequest) -> bool:
        return (
            (self.tradingsymbol is None or request.tradingsymbol == self.tradingsymbol)
            and (self.side is None or request.side is self.side)
            and (self.tag_prefix is None or request.tag.startswith(self.tag_prefix))
            and (self.account is None or account == self.account)
        )


def match(
    *,
    tradingsymbol: str | None = None,
    side: Side | str | None = None,
    tag_prefix: str | None = None,
    account: str | None = None,
    nth: int | None = None,
) -> OrderMatch:
    return OrderMatch(tradingsymbol, Side(side) if side is not None else None, tag_prefix, account, nth)


@dataclass(frozen=True, slots=True)
class Reject:
    message: str
    after_s: float = 0.0  # a late rejection (the documents' leg 2: rejected after leg 1 filled)


@dataclass(frozen=True, slots=True)
class Hold:
    """Goes OPEN and never fills until `exchange.release(order_id)` or a cancel."""


@dataclass(frozen=True, slots=True)
class Partial:
    """Fills exactly `quantity` as soon as it is OPEN, then holds the rest."""

    quantity: int


@dataclass(frozen=True, slots=True)
class FillAfter:
    """Stays OPEN unfilled for `seconds`, then fills completely at its limit or better."""

    seconds: float


@dataclass(frozen=True, slots=True)
class UnknownOutcomeAction:
    """Accepted and processed normally, but the place call raises a timeout to the caller."""

    accepted: bool = True  # False: the request is lost on the way and no order exists


@dataclass(frozen=True, slots=True)
class Delay:
    """Every hop of this order's status sequence takes `seconds` longer."""

    seconds: float


RuleAction = Union[Reject, Hold, Partial, FillAfter, UnknownOutcomeAction, Delay]  # noqa: UP007


def reject(message: str = "RMS:Rule: order rejected by scenario", *, after_s: float = 0.0) -> Reject:
    return Reject(message, after_s)


def hold() -> Hold:
    return Hold()


def partial(quantity: int) -> Partial:
    return Partial(quantity)


def fill_after(seconds: float) -> FillAfter:
    return FillAfter(seconds)


def unknown_outcome(*, accepted: bool = True) -> UnknownOutcomeAction:
    return UnknownOutcomeAction(accepted)


def delay(seconds: float) -> Delay:
    return Delay(seconds)


@dataclass(frozen=True, slots=True)
class OrderRule:
    match: OrderMatch
    action: RuleAction
    once: bool = True


class RuleBook:
    """The active rules, each with its own count of matching orders (for `nth`)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._rules: dict[int, OrderRule] = {}
        self._seen: dict[int, int] = {}

    def add(self, rule: OrderRule) -> int:
        rule_id = next(self._ids)
        self._rules[rule_id] = rule
        self._seen[rule_id] = 0
        return rule_id

    def remove(self, rule_id: int) -> None:
        self._rules.pop(rule_id, None)
        self._seen.pop(rule_id, None)

    def clear(self) -> None:
        self._rules.clear()
        self._seen.clear()

    def __len__(self) -> int:
        return len(self._rules)

    def decide(self, account: str, request: OrderRequest) -> RuleAction | None:
        """The action of the first rule that matches this order, if any (counts every match)."""
        chosen: RuleAction | None = None
        for rule_id, rule in list(self._rules.items()):
            if not rule.match.fields_match(account, request):
                continue
            self._seen[rule_id] += 1
            if chosen is not None:
                continue
            if rule.match.nth is not None and self._seen[rule_id] != rule.match.nth:
                continue
            chosen = rule.action
            if rule.once:
                self.remove(rule_id)
        return chosen
