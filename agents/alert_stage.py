"""The worker's alert stage: publishes and delivers the alerts of the detectors (which
the batch core runs, ``agents.batch_core``), and checks the wall-clock silence.

Alert events go to the ``social-alerts`` topic (key: the brand), to the
``socialpulse_alert_firing`` gauge, and to every notifier through the dispatcher, whose
queues never make the pipeline wait.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import faust
from mode import Service

from socialpulse.agents.metrics import Metrics
from socialpulse.agents.settings import FileConfig, WorkerSettings
from socialpulse.agents.state import BrandState
from socialpulse.alerts.detector import AlertEngine
from socialpulse.alerts.model import Alert
from socialpulse.alerts.notify import ConsoleNotifier, Dispatcher, Notifier, notifier_for
from socialpulse.alerts.rules import Tuning
from socialpulse.streams import codec

log = logging.getLogger("socialpulse.alerts")


def notify_urls(settings: WorkerSettings, config: FileConfig) -> list[str]:
    from_env = [u.strip() for u in settings.alert_notify.split(",") if u.strip()]
    return [*from_env, *config.alerts.notify]


class AlertStage(Service):
    """Publishes the detectors' alerts and delivers them to the notifiers.

    A service of the worker (``agents.app``): its notifiers' queues are drained from its
    start; it stops after the events reader, delivering what is still queued first
    (``alerts.notify.Dispatcher.close``)."""

    def __init__(
        self, app: faust.App, settings: WorkerSettings, metrics: Metrics, config: FileConfig
    ) -> None:
        super().__init__()
        self.app = app
        self.settings = settings
        self.metrics = metrics
        tuning = Tuning(**config.alerts.tuning)  # type: ignore[arg-type]
        limits = {brand: bc.alerts for brand, bc in config.brands.items() if bc.alerts}
        self.engine = AlertEngine(tuning, limits)
        notifiers: list[Notifier] = [ConsoleNotifier()] if settings.alert_console else []
        notifiers += [notifier_for(url) for url in notify_urls(settings, config)]
        self.dispatcher = Dispatcher(notifiers, self._delivered)
        for notifier in notifiers:  # export zeros, so boards and rate() see every notifier
            for outcome in ("sent", "failed", "dropped"):
                metrics.alert_deliveries.labels(notifier.kind, outcome)

    def _delivered(self, kind: str, outcome: str) -> None:
        self.metrics.alert_deliveries.labels(kind, outcome).inc()

    async def check_silence(self, states: dict[str, BrandState]) -> None:
        for alert in self.engine.check_silence(states):
            await self.publish(alert)

    async def publish(self, alert: Alert) -> None:
        body = alert.to_dict()
        gauge = self.metrics.alert_firing.labels(alert.brand, alert.rule, alert.severity)
        gauge.set(1 if alert.state == "firing" else 0)
        self.metrics.alerts.labels(alert.rule, alert.severity, alert.state).inc()
        try:
            await self.app.producer.send(
                self.settings.alerts_topic,
                alert.brand.encode(),
                codec.dumps(body),
                None,
                None,
                None,
            )
        except Exception as exc:  # the topic being down must not stop counting
            log.error(
                "could not write alert %s to %s: %s", alert.id, self.settings.alerts_topic, exc
            )
        if self.should_stop:  # the worker is stopping, its deliveries drained: say so
            for notifier in self.dispatcher.notifiers:
                self._delivered(notifier.kind, "dropped")
            log.error("alert %s raised while the worker stops: not delivered", alert.id)
            return
        self.dispatcher.submit(body)  # delivered from the stage's start (queued until)

    async def on_start(self) -> None:
        self.dispatcher.start()

    async def on_stop(self) -> None:
        """Deliver what the notifiers still have queued, then stop them."""
        await self.dispatcher.close()

    def show_firing(self, brands: Iterable[str]) -> None:
        """Set the gauge of the firing alerts of ``brands`` (restored from the state log)."""
        mine = set(brands)
        for alert in self.engine.lifecycle.firing():
            if alert.brand in mine:
                self.metrics.alert_firing.labels(alert.brand, alert.rule, alert.severity).set(1)
