"""The pieces of a guarded deployment: traffic steps, alarm watching and the shadow report."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast, get_args

import numpy as np
import orjson

from driftloop.alarms.base import AlarmStore
from driftloop.alarms.definition import AlarmDefinition
from driftloop.capture.base import CaptureStore
from driftloop.errors import ConfigError, NotFoundError
from driftloop.metrics.base import MetricStore
from driftloop.serving.metrics import NAMESPACE

log = logging.getLogger("driftloop.deploy")
Strategy = Literal["all-at-once", "canary", "linear", "shadow"]


def check_strategy(strategy: str) -> Strategy:
    """``strategy`` if it is one of the known ones, else :class:`ConfigError`."""
    for known in get_args(Strategy):
        if strategy == known:
            return cast(Strategy, known)
    raise ConfigError(f"unknown strategy '{strategy}' (all-at-once, canary, linear, shadow)")


@dataclass(frozen=True)
class Step:
    """One traffic shift: its name, the new model's share (0-1) and how long it bakes."""

    name: str
    share: float
    bake_s: float


def traffic_steps(
    strategy: str, bake_s: float, canary_percent: float, step_percent: float, interval_s: float
) -> list[Step]:
    """The shifts of a strategy, ending with all traffic on the new model (none for shadow)."""
    final = Step("all-traffic", 1.0, bake_s)
    if strategy == "shadow":
        return []
    if strategy == "all-at-once":
        return [final]
    if strategy == "canary":
        if not 0 < canary_percent < 100:
            raise ConfigError(f"canary percent must be between 0 and 100, got {canary_percent}")
        return [Step("canary", canary_percent / 100, bake_s), final]
    if strategy == "linear":
        if not 0 < step_percent < 100:
            raise ConfigError(f"linear step percent must be between 0 and 100, got {step_percent}")
        count = int(np.ceil(100 / step_percent)) - 1
        shares = [round(step_percent * i / 100, 6) for i in range(1, count + 1)]
        return [Step(f"linear-{share * 100:g}%", share, interval_s) for share in shares] + [final]
    raise ConfigError(f"strategy '{check_strategy(strategy)}' moves no traffic")


class AlarmWatch:
    """Evaluates the watched alarms through the alarm service, as the agent does."""

    def __init__(self, store: AlarmStore, names: list[str], now: Callable[[], datetime]) -> None:
        self.store = store
        self.now = now
        self.alarms = [self._definition(name) for name in names]

    def _definition(self, name: str) -> AlarmDefinition:
        try:
            return self.store.get(name).definition
        except NotFoundError:
            raise ConfigError(
                f"no alarm named '{name}' to watch", details={"alarm": name}
            ) from None

    def firing(self) -> tuple[str, str] | None:
        """``(alarm name, reason)`` of the first watched alarm in ALARM, else None."""
        results = self.store.evaluate(self.now(), [alarm.alarm_name for alarm in self.alarms])
        firing = [(name, r.reason) for name, r in results.items() if r.state == "ALARM"]
        return firing[0] if firing else None

    def settle_s(self, margin_s: float) -> float:
        """Seconds from now until every watched alarm has evaluated its full evaluation range
        of traffic that starts now (complete periods only), plus ``margin_s`` for late
        datapoints; 0 without alarms."""
        now = self.now().timestamp()
        ends = [(now // a.period + 1 + a.evaluation_periods) * a.period - now for a in self.alarms]
        return max(ends, default=-margin_s) + margin_s


def bake(
    watch: AlarmWatch,
    seconds: float,
    poll_s: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    margin_s: float = 0.0,
) -> tuple[str, str] | None:
    """Wait ``seconds``, and at least until every watched alarm has judged the new traffic
    (:meth:`AlarmWatch.settle_s`), checking the alarms every ``poll_s``; the first ALARM ends
    it early. A shorter bake could move traffic on before an alarm could fire."""
    deadline = clock() + max(seconds, watch.settle_s(margin_s))
    while True:
        firing = watch.firing()
        remaining = deadline - clock()
        if firing is not None or remaining <= 0:
            return firing
        sleep(min(poll_s, remaining))


def _captured(
    capture: CaptureStore, endpoint: str, variant: str, since: datetime, until: datetime
) -> Iterator[tuple[str | None, list[float]]]:
    """``(inferenceId, probabilities)`` of each capture record in ``[since, until)``."""
    for record in capture.read_records(endpoint, variant, since=since, until=until):
        meta = record.get("eventMetadata", {})
        yield meta.get("inferenceId"), _probabilities(record.get("captureData", {}))


def _probabilities(data: dict[str, Any]) -> list[float]:
    """Positive-class probabilities of a captured JSON answer ([] if there is none)."""
    output = data.get("endpointOutput")
    if output is None or output.get("encoding") != "JSON":
        return []
    try:
        return [float(p["probability"]) for p in orjson.loads(output["data"])["predictions"]]
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
        return []


def _mean_latency(metrics: MetricStore, endpoint: str, variant: str, since: int) -> float | None:
    points = metrics.get_metric_data(
        NAMESPACE, "ModelLatency", {"EndpointName": endpoint, "VariantName": variant}, since=since
    )
    count = sum(p.count for p in points)
    return sum(p.sum for p in points) / count if count else None


def shadow_report(
    capture: CaptureStore,
    metrics: MetricStore,
    endpoint: str,
    production: str,
    shadow: str,
    since: datetime,
    until: datetime,
) -> dict[str, object]:
    """Shadow answers vs the production variant's over ``[since, until)``."""
    answered = list(_captured(capture, endpoint, production, since, until))
    prod = {key: values for key, values in answered if key is not None}
    shadowed = list(_captured(capture, endpoint, shadow, since, until))
    diffs = [
        abs(a - b)
        for key, values in shadowed
        if key is not None and len(prod.get(key, [])) == len(values)
        for a, b in zip(values, prod[key], strict=True)
    ]
    minute = int(since.timestamp()) // 60 * 60
    return {
        "shadow_answers": len(shadowed),
        "production_answers": len(answered),
        "matched_rows": len(diffs),
        "mean_abs_probability_diff": float(np.mean(diffs)) if diffs else None,
        "shadow_model_latency_us": _mean_latency(metrics, endpoint, shadow, minute),
        "production_model_latency_us": _mean_latency(metrics, endpoint, production, minute),
    }
