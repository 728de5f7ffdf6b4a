"""A release, as a CI/CD pipeline runs it (``python deploy.py``): the latest Approved version of
an endpoint's model, deployed with the guardrails and smoke-tested through the endpoint.

1. **Pick.** The newest version of the endpoint's model whose approval is ``Approved``. On the
   aws backend the registry keeps each version's approval in step with the
   ``ModelApprovalStatus`` of its model package (a status set in SageMaker is read back), so this
   is the latest Approved model package of the model's package group.
2. **Deploy.** A guarded deployment (:mod:`driftloop.deploy.guarded`) with ``[deploy]``'s
   strategy, bake and alarms: on SageMaker one blue/green UpdateEndpoint that SageMaker shifts,
   bakes and rolls back itself. An endpoint that already sends all its traffic to that version
   (by number; an alias may have moved since the endpoint loaded it) is left as it is.
3. **Smoke test.** Rows of the version's training snapshot go through the endpoint as one JSON
   request (SageMaker's InvokeEndpoint on aws; locally the running endpoint server when one
   listens, else the endpoint's data plane in this process), and the answer must hold one
   probability in [0, 1] per row.

Everything that can be checked before a change is checked first (the endpoint, an Approved
version, its smoke rows, the plan). Each failure is one sentence: no Approved version
(:class:`~driftloop.errors.ModelNotFound`, exit 4), a roll-back
(:class:`~driftloop.errors.DeploymentRolledBack`, exit 9), a failed smoke test (the invocation's
own error, or :class:`~driftloop.errors.ModelError` for a wrong answer, exit 1).
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson
import pandas as pd

from driftloop.backends.catalog import Backends
from driftloop.config import Settings
from driftloop.data.codecs import JSON
from driftloop.data.snapshot import SnapshotStore
from driftloop.deploy.guarded import DeployPlan, deploy
from driftloop.errors import (
    ConfigError,
    DeploymentRolledBack,
    DriftloopError,
    ModelError,
    ModelNotFound,
    NotFoundError,
)
from driftloop.registry.base import APPROVED, ModelRegistry, ModelVersion
from driftloop.serving.dataplane import DataPlane, Invocation
from driftloop.serving.endpoint_config import EndpointConfig
from driftloop.serving.live import ModelCache
from driftloop.serving.metrics import EndpointMetrics
from driftloop.serving.models import resolve_version
from driftloop.serving.routing import build_table
from driftloop.serving.runtime import invoke_endpoint, serve_url

log = logging.getLogger("driftloop.deploy")
SMOKE_ROWS = 5
STALE_WAIT_S = 30.0
"""How long a running local server may keep answering with the version it served before: its
workers load the new revision in the background, within ``serving.config_poll`` of the save
plus the model's load time."""


@dataclass(frozen=True)
class SmokeResult:
    """How the smoke request went: rows sent, where, and what answered."""

    rows: int
    via: str
    variant: str | None
    model_version: str | None
    probabilities: list[float]


@dataclass(frozen=True)
class Release:
    """What a release did: the version, how the endpoint got it, and the smoke test."""

    endpoint: str
    model_name: str
    version: int
    action: Literal["completed", "unchanged"]
    reason: str
    smoke: SmokeResult
    previous: int | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def latest_approved(registry: ModelRegistry, name: str) -> ModelVersion:
    """The newest ``Approved`` version of ``name``; :class:`ModelNotFound` when there is none."""
    approved = [v for v in registry.list_versions(name) if v.approval == APPROVED]
    if not approved:
        raise ModelNotFound(
            f"{name} has no Approved version to deploy: approve one with `driftloop models "
            "approve VERSION` (or its model package in SageMaker's model registry)",
            details={"model": name},
        )
    return max(approved, key=lambda v: v.version)


def release(
    settings: Settings,
    endpoint: str,
    *,
    overrides: dict[str, Any] | None = None,
    rows: int = SMOKE_ROWS,
    url: str | None = None,
    on_step: Callable[[dict[str, Any]], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Release:
    """Deploy the latest Approved version of ``endpoint``'s model with the guardrails of
    ``settings.deploy`` (``overrides`` are :class:`DeployPlan` fields), then smoke-test it with
    ``rows`` rows (``url``: the runtime URL instead of the settings')."""
    if rows < 1:
        raise ConfigError(f"a smoke request needs at least one row, not {rows}")
    stores = Backends.from_settings(settings)
    current = _endpoint(stores, endpoint)
    name = current.model_name
    chosen = latest_approved(stores.registry, name)
    number = chosen.version
    plan = DeployPlan.from_settings(settings.deploy, endpoint, str(number), **(overrides or {}))
    if plan.strategy == "shadow":
        raise ConfigError(
            "a release moves traffic to the new version, and a shadow deployment never does: "
            "use all-at-once, canary or linear"
        )
    body, count = smoke_body(stores.snapshots, chosen, rows)
    previous = _served(stores.registry, current)
    log.info("releasing %s v%s to %s (serving v%s)", name, number, endpoint, previous)
    final = current
    if serves_only(current, number):
        action: Literal["completed", "unchanged"] = "unchanged"
        reason, steps = f"{endpoint} already sends all its traffic to v{number}", []
    else:
        result = deploy(settings, plan, on_step=on_step, clock=clock, sleep=sleep)
        if result.status == "rolled_back":
            raise DeploymentRolledBack(
                f"deployment of v{number} to {endpoint} rolled back: {result.reason}",
                details={"revision": result.final_config.revision, "version": number},
            )
        action, reason, steps = "completed", result.reason, result.steps
        final = result.final_config
    live = frozenset(v.name for v in final.variants if v.weight > 0)
    try:
        smoke = smoke_test(
            settings, stores, endpoint, number, body, count, url, clock, sleep, variants=live
        )
    except DriftloopError as exc:
        back = (
            f"; `driftloop deploy --endpoint {endpoint} --model {previous}` brings back v{previous}"
            if previous is not None and previous != number
            else ""
        )
        message = (
            f"smoke test of {name} v{number} on endpoint '{endpoint}' failed: {exc.message}; "
            f"the endpoint serves v{number}{back}"
        )
        raise _same_kind(exc, message) from None
    return Release(endpoint, name, number, action, reason, smoke, previous, steps)


def serves_only(config: EndpointConfig, number: int) -> bool:
    """Whether every weighted variant of ``config`` names version ``number`` by number, with no
    shadow. An alias does not count: it may have moved since the endpoint resolved it."""
    live = {v.model for v in config.variants if v.weight > 0}
    return config.shadow is None and live == {str(number)}


def smoke_body(snapshots: SnapshotStore, version: ModelVersion, rows: int) -> tuple[bytes, int]:
    """A JSON request of ``rows`` feature rows from the version's training snapshot (complete
    rows first) and how many rows it holds."""
    digest = version.train_snapshot
    if digest is None:
        raise NotFoundError(
            f"{version.name} v{version.version} has no training snapshot recorded, so there are "
            "no rows for a smoke request (versions registered by `driftloop train` have one)"
        )
    features = snapshots.spec(digest).features
    frame = snapshots.read(digest)[features]
    complete = frame.notna().all(axis=1)
    chosen = pd.concat([frame[complete], frame[~complete]]).head(rows)
    if chosen.empty:
        raise NotFoundError(f"training snapshot {digest} has no rows for a smoke request")
    return chosen.to_json(orient="records").encode(), len(chosen)


def smoke_test(
    settings: Settings,
    stores: Backends,
    endpoint: str,
    number: int,
    body: bytes,
    rows: int,
    url: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    *,
    variants: frozenset[str] | None = None,
) -> SmokeResult:
    """Send ``body`` through ``endpoint`` and check the answer: one probability in [0, 1] for
    each of its ``rows`` rows and, where the endpoint says which version and variant answered
    (driftloop's own server), version ``number`` from one of ``variants`` (the deployed
    config's): a server still on an earlier config of the deployment is asked again."""
    inference_id = f"release-smoke-v{number}-{uuid.uuid4().hex[:8]}"
    local = settings.backend.kind == "local"
    if local and url is None and not _listening(serve_url(settings)):
        return _in_process(settings, stores, endpoint, body, rows, inference_id)
    runtime = url or (serve_url(settings) if local else None)
    where = runtime or settings.aws.endpoint_urls.get("sagemaker-runtime") or "SageMaker"
    request = {
        "EndpointName": endpoint,
        "Body": body,
        "ContentType": JSON,
        "Accept": JSON,
        "InferenceId": inference_id,
    }
    deadline = clock() + STALE_WAIT_S
    while True:
        answer, data = invoke_endpoint(settings, runtime, request)
        probabilities, version = check_answer(data, rows)
        variant = answer.get("InvokedProductionVariant")
        live = variants is None or variant is None or variant in variants
        if not local or (version in (None, str(number)) and live):
            break
        if clock() >= deadline:
            raise ModelError(
                f"{where} still answers with v{version} from {variant} {STALE_WAIT_S:g} s "
                "after the deployment"
            )
        log.info("%s still answers with v%s from %s; asking again", where, version, variant)
        sleep(settings.serving.config_poll.total_seconds())
    return SmokeResult(rows, where, variant, version, probabilities)


def check_answer(data: bytes, rows: int) -> tuple[list[float], str | None]:
    """The probabilities of an endpoint's JSON answer, one per row, each in [0, 1], and the
    model version it names (None when it names none); :class:`ModelError` otherwise."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ModelError(f"the answer is not JSON: {data[:80]!r}") from None
    predictions = doc.get("predictions") if isinstance(doc, dict) else doc
    if not isinstance(predictions, list):
        raise ModelError(f"the answer holds no list of predictions: {data[:80]!r}")
    if len(predictions) != rows:
        held = f"{len(predictions)} prediction{'' if len(predictions) == 1 else 's'}"
        raise ModelError(f"the answer holds {held} for {rows} rows")
    probabilities = []
    for n, prediction in enumerate(predictions, 1):
        value = prediction.get("probability") if isinstance(prediction, dict) else prediction
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0 <= value <= 1
        ):
            shown = "null" if value is None else repr(value)
            raise ModelError(f"row {n}'s probability is {shown}, not a number in [0, 1]")
        probabilities.append(float(value))
    version = doc.get("model_version") if isinstance(doc, dict) else None
    return probabilities, None if version is None else str(version)


def _in_process(
    settings: Settings, stores: Backends, endpoint: str, body: bytes, rows: int, inference_id: str
) -> SmokeResult:
    """The request answered by the endpoint's data plane in this process: its current config's
    models and routing, nothing captured or counted."""
    table = build_table(stores.endpoints.get(endpoint), ModelCache(stores.registry).load)
    serving = settings.serving
    plane = DataPlane(
        table,
        EndpointMetrics(endpoint, None),
        None,
        max_rows=serving.max_rows,
        timeout_s=serving.request_timeout.total_seconds(),
    )
    call = Invocation(body, JSON, JSON, inference_id=inference_id)
    answer = asyncio.run(plane.invoke(call))
    probabilities, version = check_answer(answer.body, rows)
    return SmokeResult(rows, "the endpoint's data plane", answer.variant, version, probabilities)


def _endpoint(stores: Backends, endpoint: str) -> EndpointConfig:
    try:
        return stores.endpoints.get(endpoint)
    except NotFoundError:
        raise NotFoundError(
            f"endpoint '{endpoint}' does not exist: create it once (`driftloop endpoints create "
            f"{endpoint}`); a release updates it",
            details={"endpoint": endpoint},
        ) from None


def _served(registry: ModelRegistry, config: EndpointConfig) -> int | None:
    """The version behind the endpoint's heaviest variant (None when it does not resolve)."""
    heaviest = max(config.variants, key=lambda v: v.weight)
    try:
        return resolve_version(registry, config.model_name, heaviest.model)
    except NotFoundError:
        return None


def _listening(url: str) -> bool:
    """Whether something accepts connections at ``url``'s host and port."""
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        return False
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return True
    except OSError:
        return False


def _same_kind(error: DriftloopError, message: str) -> DriftloopError:
    """``error`` with ``message``: same class, so the same exit code."""
    try:
        return type(error)(message, details=error.details)
    except TypeError:  # an error class with its own constructor
        return ModelError(message, details=error.details)
