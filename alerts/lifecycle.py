"""One alert per brand × rule at a time: firing, then resolved with hysteresis, then cooldown.

A rule fires on the first evaluation whose signal crosses its threshold: on the rise, not
after the peak. It resolves only once the signal has stayed below a lower, clearing level
for ``resolve_after`` seconds of event time, and it may not fire again for ``cooldown``
seconds after that, so a signal that hovers at the threshold does not flap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from socialpulse.alerts.model import Alert, incident_id
from socialpulse.alerts.rules import RULES


@dataclass
class Check:
    """One evaluation of a rule: fire, clear or neither, with the figures for its alert."""

    fire: bool
    clear: bool
    value: float
    baseline: float | None
    threshold: float
    severity: str = "warning"
    crisis: bool | None = None  # None: the rule's own crisis flag
    evidence: Callable[[], dict[str, Any]] | None = None


@dataclass
class RuleState:
    firing: Alert | None = None
    clear_since: float | None = None
    cooldown_until: float = float("-inf")


class Lifecycle:
    """The state of every brand × rule; ``step`` turns a check into 0 or 1 alert events."""

    def __init__(
        self, resolve_after: float, cooldown: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.resolve_after = resolve_after
        self.cooldown = cooldown
        self.clock = clock
        self.states: dict[tuple[str, str], RuleState] = {}

    def firing(self) -> list[Alert]:
        return [s.firing for s in self.states.values() if s.firing is not None]

    def is_firing(self, brand: str, rule: str) -> bool:
        state = self.states.get((brand, rule))
        return state is not None and state.firing is not None

    def step(self, brand: str, rule: str, now: float, check: Check) -> Alert | None:
        state = self.states.setdefault((brand, rule), RuleState())
        if state.firing is None:
            if not check.fire or now < state.cooldown_until:
                return None
            crisis = RULES[rule].crisis if check.crisis is None else check.crisis
            state.firing = Alert(
                id=incident_id(brand, rule, now),
                brand=brand,
                rule=rule,
                state="firing",
                severity=check.severity,
                crisis=crisis,
                event_time=now,
                fired_at=self.clock(),
                value=check.value,
                baseline=check.baseline,
                threshold=check.threshold,
                summary=RULES[rule].summary,
                evidence=check.evidence() if check.evidence else {},
            )
            state.clear_since = None
            return state.firing
        if not check.clear:
            state.clear_since = None
            return None
        if state.clear_since is None:
            state.clear_since = now
        if now - state.clear_since < self.resolve_after:
            return None
        resolved = replace(
            state.firing,
            state="resolved",
            event_time=now,
            fired_at=self.clock(),
            value=check.value,
            baseline=check.baseline,
        )
        state.firing, state.clear_since = None, None
        state.cooldown_until = now + self.cooldown
        return resolved

    def forget(self, brands: set[str]) -> None:
        for key in [k for k in self.states if k[0] in brands]:
            del self.states[key]
