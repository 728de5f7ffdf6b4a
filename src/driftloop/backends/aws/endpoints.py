"""The endpoint config store on SageMaker: models, endpoint configs and endpoints.

Saving a config makes one SageMaker Model per variant and shadow (from the version's model
package, or ``aws.inference_image`` with its model data), a new endpoint config
``<endpoint>-<revision>`` (weights, the shadow, data capture to ``<prefix>/datacapture``), then
CreateEndpoint or UpdateEndpoint. driftloop's own JSON (revision, time) is kept on S3 under
``<prefix>/endpoints/<endpoint>.json``, so get and list return exactly what was saved. A save
that fails half-way removes what it made and puts the previous JSON back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from driftloop.backends.aws._clients import call, client, translated
from driftloop.backends.aws._deployment import (
    UPDATING,
    WAIT_MARGIN_S,
    deployment_config,
    max_seconds,
    serverless_config,
)
from driftloop.backends.aws._s3 import Bucket
from driftloop.backends.aws.registry import MODEL_DATA_TAG, PACKAGE_TAG
from driftloop.config import Settings
from driftloop.errors import (
    CloudError,
    ConfigError,
    DeploymentRolledBack,
    DriftloopError,
    NotFoundError,
)
from driftloop.registry.base import ModelVersion
from driftloop.serving.endpoint_config import (
    EndpointConfig,
    EndpointConfigStore,
    Rollout,
    Serverless,
    Shadow,
    Variant,
    summary,
    validate_config,
)
from driftloop.serving.models import check_references

if TYPE_CHECKING:
    from driftloop.backends.catalog import Backends

log = logging.getLogger(__name__)

MAX_NAME = 63
"""SageMaker's longest model, endpoint config and endpoint name."""
OWNER_TAG = "driftloop:endpoint"
"""Tag on the models and endpoint configs driftloop makes: the endpoint they serve."""
_PAGE = {"PageSize": 100}
_NAME_PARAMETER = {
    "model": "ModelName",
    "endpoint_config": "EndpointConfigName",
    "endpoint": "EndpointName",
}
_Undo = list[tuple[str, Callable[[], object]]]


def model_name(endpoint: str, variant: str, version: int, request: dict[str, Any]) -> str:
    """``<endpoint>-<variant>-v<version>-<digest>``, cut to 63 characters. The digest covers
    the whole CreateModel request, so a name always means the same model and is reused."""
    whole = json.dumps([endpoint, variant, request], sort_keys=True).encode()
    digest = hashlib.sha256(whole).hexdigest()[:8]
    readable = f"{endpoint}-{variant}-v{version}"[: MAX_NAME - len(digest) - 1].rstrip("-")
    return f"{readable}-{digest}"


def refuse_unsupported(config: EndpointConfig, revision: int) -> None:
    """One sentence for what SageMaker cannot take: faults, long names, fractional capture."""
    for variant in _variants(config):
        if variant.fault is not None:
            raise ConfigError(
                f"endpoint '{config.name}', variant '{variant.name}': fault injection runs only "
                "on driftloop's own server, not on SageMaker, so remove its fault"
            )
    if len(config_name(config.name, revision)) > MAX_NAME:
        raise ConfigError(
            f"endpoint name '{config.name}' is too long for SageMaker: its endpoint config "
            f"'{config_name(config.name, revision)}' would pass {MAX_NAME} characters"
        )
    percent = config.capture.sampling_percent
    if config.capture.enabled and percent != int(percent):
        raise ConfigError(
            f"endpoint '{config.name}': SageMaker captures a whole percentage of requests, "
            f"not {percent}"
        )


def config_name(endpoint: str, revision: int) -> str:
    return f"{endpoint}-{revision}"


class SageMakerEndpointStore(EndpointConfigStore):
    """:class:`EndpointConfigStore` on SageMaker endpoints, with driftloop's JSON on S3."""

    shifts_traffic = True

    def __init__(self, settings: Settings, stores: Backends, *, poll_s: float = 15.0) -> None:
        self.poll_s = poll_s
        self._aws = settings.aws
        self._sagemaker = client(settings, "sagemaker")
        self._bucket = Bucket(settings)
        self._stores = stores

    def save(self, config: EndpointConfig) -> EndpointConfig:
        return self._save(config, None)

    def roll_out(self, config: EndpointConfig, rollout: Rollout) -> EndpointConfig:
        """UpdateEndpoint with a DeploymentConfig (blue/green, traffic shifting, auto-rollback
        alarms), then DescribeEndpoint until SageMaker has finished."""
        previous = self.get(config.name)
        _check_blue_green(previous, config)
        stored = self._save(config, deployment_config(rollout))
        self._wait(stored, previous, max_seconds(rollout) + WAIT_MARGIN_S)
        return stored

    def _save(self, config: EndpointConfig, deployment: dict[str, Any] | None) -> EndpointConfig:
        """Make the models and the endpoint config, then create or update the endpoint."""
        previous = self._record(config.name)
        revision = (validate_config(json.loads(previous)).revision if previous else 0) + 1
        refuse_unsupported(config, revision)
        stored = config.model_copy(update={"revision": revision, "updated": time.time()})
        models = self._model_requests(stored)
        found = self._endpoint(stored.name)
        if found is not None:
            self._check_same_kind(stored)
        undo: _Undo = []
        try:
            self._create_models(stored.name, models, undo)
            self._create_config(stored, {v: r["ModelName"] for v, r in models.items()}, undo)
            self._bucket.put(self._key(stored.name), stored.model_dump_json(indent=2).encode())
            undo.append(("its previous record", lambda: self._restore(stored.name, previous)))
            target = config_name(stored.name, revision)
            self._deploy(stored.name, target, found is not None, deployment)
        except BaseException:
            for what, step in reversed(undo):
                _best_effort(what, step)
            raise
        self._stores.events.emit("driftloop.deploy", "Endpoint Config Updated", summary(stored))
        return stored

    def _wait(self, stored: EndpointConfig, previous: EndpointConfig, seconds: float) -> None:
        """Until the update of ``stored`` ends. When SageMaker went back to the old fleet, the
        previous config is recorded as the next revision (as a local roll-back saves it) and
        DeploymentRolledBack raised; CloudError when the update failed."""
        name, target = stored.name, config_name(stored.name, stored.revision)
        deadline = time.monotonic() + seconds
        while True:
            found = self._sm("describe_endpoint", name, EndpointName=name)
            status = found["EndpointStatus"]
            if status not in UPDATING:
                break
            if time.monotonic() > deadline:
                raise CloudError(f"endpoint '{name}' is still {status} after {seconds:.0f} s")
            time.sleep(self.poll_s)
        if status == "InService" and found["EndpointConfigName"] == target:
            return
        reason = found.get("FailureReason") or f"the endpoint is {status}"
        if status == "InService":
            back = previous.model_copy(
                update={"revision": stored.revision + 1, "updated": time.time()}
            )
            self._bucket.put(self._key(name), back.model_dump_json(indent=2).encode())
            self._stores.events.emit("driftloop.deploy", "Endpoint Config Updated", summary(back))
            raise DeploymentRolledBack(
                f"SageMaker rolled endpoint '{name}' back to "
                f"{found['EndpointConfigName']}: {reason}"
            )
        raise CloudError(f"the update of endpoint '{name}' to {target} failed: {reason}")

    def get(self, name: str) -> EndpointConfig:
        raw = self._record(name)
        if raw is None:
            raise NotFoundError(f"endpoint '{name}' does not exist")
        return validate_config(json.loads(raw), where=self._bucket.uri(self._key(name)))

    def list(self) -> list[EndpointConfig]:
        keys = self._bucket.keys("endpoints/")
        return [
            self.get(key[len("endpoints/") : -len(".json")])
            for key in keys
            if key.endswith(".json")
        ]

    def delete(self, name: str) -> None:
        """The endpoint, then every endpoint config and model driftloop made for it, then the
        record (last, so that a failed delete can be run again)."""
        self.get(name)
        if self._endpoint(name) is not None:
            self._delete("endpoint", name)
        models: set[str] = set()
        for config in self._own_configs(name):
            described = self._sm("describe_endpoint_config", config, EndpointConfigName=config)
            variants = described["ProductionVariants"] + described.get(
                "ShadowProductionVariants", []
            )
            models.update(v["ModelName"] for v in variants)
            self._delete("endpoint_config", config)
        for model in sorted(models & self._model_names(name)):
            self._delete("model", model)
        self._bucket.delete(self._key(name))

    def change_marker(self, name: str) -> object | None:
        """The endpoint's config name, status and last change (None: no endpoint)."""
        if self._endpoint(name) is None:
            return None
        found = self._sm("describe_endpoint", name, EndpointName=name)
        return found["EndpointConfigName"], found["EndpointStatus"], found["LastModifiedTime"]

    # --- what a save makes

    def _model_requests(self, config: EndpointConfig) -> dict[str, dict[str, Any]]:
        """Variant name -> its CreateModel request; ModelNotFound for a reference that does
        not resolve, before anything is made."""
        if self._aws.role_arn is None:
            raise ConfigError("aws.role_arn is not set: SageMaker models need an execution role")
        registry = self._stores.registry
        versions = check_references(registry, config)
        requests = {}
        for variant in _variants(config):
            version = registry.get_version(config.model_name, versions[variant.name])
            request = {
                "PrimaryContainer": self._container(version),
                "ExecutionRoleArn": self._aws.role_arn,
            }
            name = model_name(config.name, variant.name, version.version, request)
            requests[variant.name] = {"ModelName": name, **request}
        return requests

    def _container(self, version: ModelVersion) -> dict[str, str]:
        """The version's model package or, without one, the inference image and its data."""
        package, data = version.tags.get(PACKAGE_TAG), version.tags.get(MODEL_DATA_TAG)
        if package:
            return {"ModelPackageName": package}
        if self._aws.inference_image and data:
            return {"Image": self._aws.inference_image, "ModelDataUrl": data}
        raise ConfigError(
            f"model '{version.name}' version {version.version} has no SageMaker model package "
            "(register it on the aws backend) and aws.inference_image is not set"
        )

    def _create_models(self, endpoint: str, models: dict[str, dict[str, Any]], undo: _Undo) -> None:
        existing = self._model_names(endpoint)
        for request in models.values():
            name = request["ModelName"]
            if name in existing:
                continue  # the same request made it: reuse it
            self._sm("create_model", name, **request, Tags=_tags(endpoint))
            existing.add(name)
            undo.append((f"model {name}", partial(self._delete, "model", name)))

    def _create_config(self, config: EndpointConfig, models: dict[str, str], undo: _Undo) -> None:
        name = config_name(config.name, config.revision)
        request: dict[str, Any] = {
            "ProductionVariants": [
                self._variant(v.name, models[v.name], v.weight, config.serverless)
                for v in config.variants
            ]
        }
        if config.shadow is not None:
            # SageMaker mirrors shadow weight / production weight of the requests.
            production = sum(v.weight for v in config.variants)
            weight = production * config.shadow.sampling_percent / 100
            shadow = self._variant(config.shadow.name, models[config.shadow.name], weight)
            request["ShadowProductionVariants"] = [shadow]
        capture = config.capture
        if capture.enabled and capture.modes:
            request["DataCaptureConfig"] = {
                "EnableCapture": True,
                "InitialSamplingPercentage": int(capture.sampling_percent),
                "DestinationS3Uri": self._bucket.uri("datacapture"),
                "CaptureOptions": [{"CaptureMode": mode} for mode in capture.modes],
                "CaptureContentTypeHeader": {
                    "CsvContentTypes": ["text/csv"],
                    "JsonContentTypes": ["application/json"],
                },
            }
        self._sm(
            "create_endpoint_config",
            name,
            EndpointConfigName=name,
            Tags=_tags(config.name),
            **request,
        )
        undo.append((f"endpoint config {name}", partial(self._delete, "endpoint_config", name)))

    def _variant(
        self, name: str, model: str, weight: float, serverless: Serverless | None = None
    ) -> dict[str, Any]:
        variant: dict[str, Any] = {
            "VariantName": name,
            "ModelName": model,
            "InitialVariantWeight": weight,
        }
        if serverless is None:
            variant |= {
                "InstanceType": self._aws.inference_instance_type,
                "InitialInstanceCount": 1,
            }
        else:
            variant["ServerlessConfig"] = serverless_config(serverless)
        return variant

    def _check_same_kind(self, config: EndpointConfig) -> None:
        """SageMaker cannot turn an instance-based endpoint serverless, nor back."""
        described = self._sm("describe_endpoint", config.name, EndpointName=config.name)
        was = any("CurrentServerlessConfig" in v for v in described.get("ProductionVariants", []))
        if was != (config.serverless is not None):
            kinds = ("instance-based", "serverless")
            raise ConfigError(
                f"endpoint '{config.name}' is {kinds[was]} on SageMaker and cannot become "
                f"{kinds[not was]}: delete it and create it again"
            )

    def _deploy(
        self, endpoint: str, config: str, exists: bool, deployment: dict[str, Any] | None
    ) -> None:
        if exists:
            extra = {} if deployment is None else {"DeploymentConfig": deployment}
            self._sm(
                "update_endpoint",
                endpoint,
                EndpointName=endpoint,
                EndpointConfigName=config,
                **extra,
            )
        elif deployment is not None:
            raise NotFoundError(f"endpoint '{endpoint}' does not exist on SageMaker yet")
        else:
            self._sm(
                "create_endpoint",
                endpoint,
                EndpointName=endpoint,
                EndpointConfigName=config,
                Tags=_tags(endpoint),
            )

    def _delete(self, kind: str, name: str) -> None:
        """DeleteModel, DeleteEndpointConfig or DeleteEndpoint (``kind``) of ``name``."""
        self._sm(f"delete_{kind}", name, **{_NAME_PARAMETER[kind]: name})

    def _restore(self, endpoint: str, previous: bytes | None) -> None:
        if previous is None:
            self._bucket.delete(self._key(endpoint))
        else:
            self._bucket.put(self._key(endpoint), previous)

    # --- lookups

    def _key(self, endpoint: str) -> str:
        return f"endpoints/{endpoint}.json"

    def _record(self, endpoint: str) -> bytes | None:
        """driftloop's JSON of ``endpoint`` as saved (None: not saved)."""
        try:
            return self._bucket.get(self._key(endpoint))
        except NotFoundError:
            return None

    def _endpoint(self, name: str) -> dict[str, Any] | None:
        """The endpoint's summary (None: no such endpoint). A listing rather than
        DescribeEndpoint: a missing endpoint is absent, not an error."""
        found = self._listed("list_endpoints", "Endpoints", name)
        return next((e for e in found if e["EndpointName"] == name), None)

    def _own_configs(self, endpoint: str) -> tuple[str, ...]:
        """The endpoint configs ``<endpoint>-<revision>`` driftloop made for ``endpoint``."""
        own = re.compile(rf"{re.escape(endpoint)}-\d+")
        found = self._listed("list_endpoint_configs", "EndpointConfigs", endpoint)
        return tuple(
            c["EndpointConfigName"] for c in found if own.fullmatch(c["EndpointConfigName"])
        )

    def _model_names(self, endpoint: str) -> set[str]:
        return {m["ModelName"] for m in self._listed("list_models", "Models", endpoint)}

    def _listed(self, operation: str, key: str, contains: str) -> Iterator[dict[str, Any]]:
        pages = self._sagemaker.get_paginator(operation).paginate(
            NameContains=contains, PaginationConfig=_PAGE
        )
        with translated("sagemaker", operation, contains):
            listed = list(pages)
        for page in listed:
            yield from page[key]

    def _sm(self, operation: str, what: str, **kwargs: Any) -> Any:
        return call("sagemaker", getattr(self._sagemaker, operation), what, **kwargs)


def _check_blue_green(previous: EndpointConfig, config: EndpointConfig) -> None:
    """SageMaker's guardrails shift traffic between fleets of one variant of the same name."""
    old, new = [v.name for v in previous.variants], [v.name for v in config.variants]
    if len(old) != 1 or old != new:
        raise ConfigError(
            f"endpoint '{config.name}': SageMaker shifts traffic blue/green only from one "
            f"production variant to one of the same name (now {', '.join(old)}; new "
            f"{', '.join(new)}): deploy all-at-once, or make it one variant first"
        )


def _variants(config: EndpointConfig) -> tuple[Variant | Shadow, ...]:
    return (*config.variants, *([config.shadow] if config.shadow else []))


def _tags(endpoint: str) -> list[dict[str, str]]:
    return [{"Key": OWNER_TAG, "Value": endpoint}]


def _best_effort(what: str, step: Callable[[], object]) -> None:
    """One step of undoing a failed save; a step that fails is logged, not raised."""
    try:
        step()
    except DriftloopError as exc:
        log.warning("a failed endpoint save left %s behind: %s", what, exc)
