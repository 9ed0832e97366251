"""The alerts' part of the config file, validated by the alerts package itself: a brand's
fixed limits per rule, and the ``alerts`` section (receivers and detector tuning).

``agents.settings.FileConfig`` holds these models; they name only what this package
defines (the rules, the tuning's fields, the notifiers' URL schemes), so the config
file's alert errors are found where the rules live, and the worker imports this module,
never the other way around.
"""

from __future__ import annotations

from dataclasses import fields

from pydantic import BaseModel, Field, field_validator

from socialpulse.alerts.notify import notifier_for
from socialpulse.alerts.rules import RULES, Tuning

#: fixed limits of one brand: {rule: {"above": x} and/or {"below": y}}
RuleLimits = dict[str, dict[str, float]]


def check_rule_limits(value: RuleLimits) -> RuleLimits:
    """A brand's ``alerts`` entry: known rules, only ``above`` and ``below`` (ValueError)."""
    for rule, limits in value.items():
        if rule not in RULES:
            raise ValueError(f"alerts: {rule!r} is not a rule ({', '.join(RULES)})")
        unknown = set(limits) - {"above", "below"}
        if unknown:
            raise ValueError(f"alerts.{rule}: unknown keys {sorted(unknown)} (above, below)")
    return value


class AlertsConfig(BaseModel):
    """The config file's ``alerts`` section: where alerts go, and detector tuning."""

    model_config = {"extra": "forbid", "hide_input_in_errors": True}  # URLs hold secrets

    notify: list[str] = Field(default_factory=list, description="Webhook or Apprise URLs.")
    tuning: dict[str, float] = Field(default_factory=dict, description="Tuning overrides.")

    @field_validator("tuning")
    @classmethod
    def _known_tuning(cls, value: dict[str, float]) -> dict[str, float]:
        known = {f.name for f in fields(Tuning)}
        unknown = set(value) - known
        if unknown:
            raise ValueError(f"alerts.tuning: unknown keys {sorted(unknown)}")
        return value

    @field_validator("notify")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            notifier_for(url)  # ValueError names the URL
        return value
