"""An alert, as written to the ``social-alerts`` topic and sent to every notifier."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Alert:
    id: str  # the same for an incident's firing and resolved events
    brand: str
    rule: str
    state: str  # "firing" or "resolved"
    severity: str  # "info", "warning" or "critical"
    crisis: bool
    event_time: float  # epoch seconds of the event time it fired (or resolved) at
    fired_at: float  # wall clock, epoch seconds
    value: float
    baseline: float | None
    threshold: float
    summary: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def incident_id(brand: str, rule: str, event_time: float) -> str:
    """A stable id for an incident, so receivers can match its firing and resolved events."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"socialpulse:{brand}:{rule}:{event_time:.3f}"))
