"""Guarded deployments: all-at-once, canary, linear or shadow, with automatic roll-back.

Like SageMaker's deployment guardrails, traffic moves to a registered model version in steps
(each one a new endpoint config revision, applied live by the running workers) and bakes while
the listed alarms are evaluated. A watched alarm in ALARM restores the previous config exactly,
in one save. A shadow deployment only copies traffic to the new model and reports how its
answers compare; no caller ever gets one of them. One deployment per endpoint runs at a time;
one whose process died is rolled back by the next (:mod:`driftloop.deploy.journal`).

Where the endpoint service shifts traffic itself (SageMaker's deployment guardrails), the
deployment hands it the whole update instead: one blue/green update of the endpoint's one
variant to the new version, shifted and baked as the plan says and rolled back by the service
when a watched alarm goes to ALARM. The service owns that update, so it keeps no journal.
A serverless endpoint takes all-at-once deployments only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from driftloop.backends.catalog import Backends
from driftloop.config import DeploySettings, Settings
from driftloop.deploy._steps import (
    AlarmWatch,
    Strategy,
    bake,
    check_strategy,
    shadow_report,
    traffic_steps,
)
from driftloop.deploy.journal import FINAL_STEP, DeployJournal, recover, step_detail
from driftloop.errors import ConfigError, DeploymentRolledBack, DriftloopError, RegistryError
from driftloop.registry.base import APPROVED
from driftloop.registry.lifecycle import promote
from driftloop.serving.endpoint_config import (
    EndpointConfig,
    Fault,
    Rollout,
    Shadow,
    Variant,
    validate_config,
)
from driftloop.serving.models import resolve_version

log = logging.getLogger("driftloop.deploy")
SOURCE = "driftloop.deploy"
NEW_VARIANT = "Candidate"
FINAL_VARIANT = "AllTraffic"
SETTLED = ("completed", "rolled_back", "shadow-removed")
__all__ = ["DeployPlan", "DeployResult", "DeploymentRolledBack", "check_strategy", "deploy"]


@dataclass
class DeployPlan:
    """What to deploy where, how traffic moves, and which alarms guard it.

    ``fault`` is put on the new variant: it rehearses a roll-back (and serves tests), it is never
    carried into the final config.
    """

    endpoint: str
    model: str
    strategy: Strategy = "canary"
    canary_percent: float = 10.0
    linear_step_percent: float = 25.0
    interval_s: float = 60.0
    bake_s: float = 300.0
    alarms: list[str] = field(default_factory=list)
    poll_s: float = 5.0
    promote: bool = True
    topic: str | None = None
    fault: Fault | None = None

    @classmethod
    def from_settings(
        cls, deploy: DeploySettings, endpoint: str, model: str, **overrides: Any
    ) -> DeployPlan:
        """The plan ``[deploy]`` describes for ``model`` on ``endpoint``, with ``overrides``."""
        plan = cls(
            endpoint=endpoint,
            model=model,
            strategy=deploy.strategy,
            canary_percent=deploy.canary_percent,
            linear_step_percent=deploy.linear_step_percent,
            interval_s=deploy.interval.total_seconds(),
            bake_s=deploy.bake.total_seconds(),
            alarms=list(deploy.alarms),
            poll_s=deploy.poll.total_seconds(),
            topic=deploy.topic,
        )
        return replace(plan, **overrides)


@dataclass
class DeployResult:
    """How a deployment ended, every step it took, and the endpoint config it left in place."""

    status: Literal["completed", "rolled_back", "shadowed"]
    steps: list[dict[str, Any]]
    final_config: EndpointConfig
    reason: str
    version: int
    report: dict[str, Any] | None = None


def deploy(
    settings: Settings,
    plan: DeployPlan,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> DeployResult:
    """Run ``plan``; every check (alarms, topic, version, approval) happens before any change."""
    return _Deployment(settings, plan, clock, sleep, now, on_step).run()


class _Deployment:
    def __init__(
        self,
        settings: Settings,
        plan: DeployPlan,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        now: Callable[[], datetime],
        on_step: Callable[[dict[str, Any]], None] | None,
    ) -> None:
        self.ws, self.plan, self.clock, self.sleep = settings.workspace, plan, clock, sleep
        self.now, self.on_step = now, on_step
        self.steps: list[dict[str, Any]] = []
        stores = Backends.from_settings(settings)
        self.store, self.events = stores.endpoints, stores.events
        # settle a dead deployment first
        recover(self.ws, self.store, self.events, plan.endpoint, stores.registry)
        self.previous = self.store.get(plan.endpoint)
        self.journal = DeployJournal(self.ws)
        self.notifier = stores.notifier
        if plan.topic is not None:
            self.notifier.check_topic(plan.topic)
        self.schedule = traffic_steps(
            check_strategy(plan.strategy),
            plan.bake_s,
            plan.canary_percent,
            plan.linear_step_percent,
            plan.interval_s,
        )
        self.watch = AlarmWatch(stores.alarms, plan.alarms, now)
        self.metrics, self.capture = stores.metrics, stores.capture
        # endpoint workers write their datapoints this late; the alarms must see them
        self.margin_s = settings.serving.metrics_flush.total_seconds() + plan.poll_s
        self.registry = stores.registry
        self.version = self._version()
        self.baseline = max(self.previous.variants, key=lambda v: v.weight)
        taken = {v.name for v in self.previous.variants}
        taken |= {self.previous.shadow.name} if self.previous.shadow else set()
        self.new_name = NEW_VARIANT if NEW_VARIANT not in taken else f"{NEW_VARIANT}-2"
        if self.previous.serverless is not None and plan.strategy != "all-at-once":
            raise ConfigError(
                f"endpoint '{plan.endpoint}' is serverless: it has one variant and no shadow, "
                f"so it takes all-at-once deployments only, not {plan.strategy}"
            )
        self.rollout = self._rollout() if self.store.shifts_traffic else None

    def _rollout(self) -> Rollout | None:
        """What the service is told to do when it shifts traffic itself (None: shadow)."""
        plan = self.plan
        if plan.strategy == "shadow":
            return None
        if plan.fault is not None:
            raise ConfigError("fault injection runs only on driftloop's own endpoint server")
        bake, interval = round(plan.bake_s), round(plan.interval_s)
        if plan.strategy == "canary":
            return Rollout("CANARY", plan.canary_percent, bake, bake, tuple(plan.alarms))
        if plan.strategy == "linear":
            step = plan.linear_step_percent
            return Rollout("LINEAR", step, interval, bake, tuple(plan.alarms))
        return Rollout("ALL_AT_ONCE", 100.0, bake, 0, tuple(plan.alarms))

    def _version(self) -> int:
        name = self.previous.model_name
        version = resolve_version(self.registry, name, self.plan.model)
        approval = self.registry.get_version(name, version).approval
        if self.plan.promote and approval != APPROVED:
            raise RegistryError(
                f"{name} v{version} is {approval}; only Approved versions can become champion "
                "(approve it first, or deploy without promoting)"
            )
        return version

    def run(self) -> DeployResult:
        if self.rollout is not None:
            return self._hand_over(self.rollout)
        self.journal.begin(
            self.plan.endpoint, self.version, self.previous, promote=self.plan.promote
        )
        try:
            return self._shadow() if self.plan.strategy == "shadow" else self._shift()
        except BaseException:  # a half-done deployment never stays in place
            if self.steps and self.steps[-1]["step"] not in SETTLED:
                self._roll_back("deployment interrupted")
            raise
        finally:  # an unsettled entry stays, for recovery once this process is gone
            if not self.steps or self.steps[-1]["step"] in SETTLED:
                self.journal.end(self.plan.endpoint)

    def _shift(self) -> DeployResult:
        for step in self.schedule:
            self._apply(step.name, self._shifted(step.share))
            firing = self._bake(step.bake_s)
            if firing is not None:
                return self._roll_back(f"alarm {firing[0]} went to ALARM: {firing[1]}")
        final = self._apply(
            "completed",
            self._with(variants=(self._variant(FINAL_VARIANT, 1.0),)),
            settle=self._promote,
        )
        reason = f"all traffic on v{self.version}" + (" (champion)" if self.plan.promote else "")
        return DeployResult("completed", self.steps, final, reason, self.version)

    def _hand_over(self, rollout: Rollout) -> DeployResult:
        """One update that the service shifts, bakes and, on an alarm, rolls back itself."""
        final = self._with(variants=(self._variant(self.baseline.name, 1.0),))
        try:
            saved = self.store.roll_out(final, rollout)
        except DeploymentRolledBack as exc:
            log.warning("deployment to %s rolled back: %s", self.plan.endpoint, exc.message)
            current = self.store.get(self.plan.endpoint)
            restored = self._record("rolled_back", current, reason=exc.message)
            return DeployResult("rolled_back", self.steps, restored, exc.message, self.version)
        self._record("completed", saved, settle=self._promote)
        reason = f"all traffic on v{self.version}" + (" (champion)" if self.plan.promote else "")
        return DeployResult("completed", self.steps, saved, reason, self.version)

    def _promote(self) -> None:
        if self.plan.promote:
            name = self.previous.model_name
            promote(self.registry, name, self.version)

    def _shadow(self) -> DeployResult:
        started = self.now().replace(microsecond=0)
        shadow = Shadow(
            name=self.new_name, model=str(self.version), sampling_percent=100, fault=self.plan.fault
        )
        self._apply("shadow", self._with(shadow=shadow))
        firing = self._bake(self.plan.bake_s)
        restored = self._apply("shadow-removed", self.previous)
        until = self.now() + timedelta(seconds=1)
        report = shadow_report(
            self.capture,
            self.metrics,
            self.plan.endpoint,
            self.baseline.name,
            self.new_name,
            started,
            until,
        )
        reason = f"v{self.version} shadowed {self.baseline.name} for {self.plan.bake_s:g} s"
        if firing is not None:
            reason += f", stopped early: alarm {firing[0]} went to ALARM"
        return DeployResult("shadowed", self.steps, restored, reason, self.version, report)

    def _bake(self, seconds: float) -> tuple[str, str] | None:
        return bake(self.watch, seconds, self.plan.poll_s, self.clock, self.sleep, self.margin_s)

    def _roll_back(self, reason: str) -> DeployResult:
        log.warning("deployment to %s rolled back: %s", self.plan.endpoint, reason)
        restored = self._apply("rolled_back", self.previous, reason=reason)
        return DeployResult("rolled_back", self.steps, restored, reason, self.version)

    def _variant(self, name: str, weight: float, fault: Fault | None = None) -> Variant:
        return Variant(name=name, model=str(self.version), weight=weight, fault=fault)

    def _shifted(self, share: float) -> EndpointConfig:
        new = self._variant(self.new_name, share, self.plan.fault)
        if share >= 1:
            return self._with(variants=(new,))
        return self._with(variants=(self.baseline.model_copy(update={"weight": 1 - share}), new))

    def _with(self, **changes: Any) -> EndpointConfig:
        """The previous config with ``changes``, validated."""
        return validate_config({**self.previous.model_dump(), **changes})

    def _apply(
        self,
        step: str,
        config: EndpointConfig,
        settle: Callable[[], None] | None = None,
        **extra: Any,
    ) -> EndpointConfig:
        """Save ``config`` as ``step``; a settling step also runs ``settle`` and frees the
        endpoint before it is announced, so whoever sees it may deploy again at once."""
        return self._record(step, self.store.save(config), settle, **extra)

    def _record(
        self,
        step: str,
        saved: EndpointConfig,
        settle: Callable[[], None] | None = None,
        **extra: Any,
    ) -> EndpointConfig:
        """Keep, announce and notify the step that left ``saved`` in place."""
        detail = step_detail(step, saved, self.version, strategy=self.plan.strategy, **extra)
        self.steps.append(detail)
        journaled = self.rollout is None  # a service-shifted update keeps no journal
        if journaled and (step not in SETTLED or step == FINAL_STEP):
            self.journal.advance(self.plan.endpoint, step, saved.revision)
        if step in SETTLED:
            if settle is not None:
                settle()
            self.journal.end(self.plan.endpoint, detail if journaled else None)
        self.events.emit(SOURCE, "Deployment Step", detail)
        self._notify(detail)
        if self.on_step is not None:
            self.on_step(detail)
        return saved

    def _notify(self, detail: dict[str, Any]) -> None:
        if self.plan.topic is None:
            return
        subject = f"Deployment of v{self.version} to {self.plan.endpoint}: {detail['step']}"
        message = f"{subject}\nweights: {detail['weights']}\nrevision: {detail['revision']}"
        try:
            self.notifier.publish(self.plan.topic, subject, message, detail)
        except DriftloopError as exc:  # a failed notification must not stop a roll-back
            log.error("deployment notification to %s failed: %s", self.plan.topic, exc)
