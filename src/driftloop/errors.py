"""The error tree. Each error carries its HTTP status, its CLI exit code and a stable code.

Domain code raises these without importing any web or CLI framework; the server and the CLI
each have one place that turns them into a response or an exit. Every error class lives here,
so this file is the whole exit-code table (README's "Exit codes" lists the same codes): a
subclass may share its parent's code, two unrelated classes never share one.
"""

from __future__ import annotations

from typing import Any


def first_problem(exc: Any) -> tuple[str, str]:
    """The dotted field path and message of a pydantic ``ValidationError``'s first error."""
    error = exc.errors()[0]
    return ".".join(str(part) for part in error["loc"]), str(error["msg"])


class DriftloopError(Exception):
    """Base of every error driftloop raises on purpose; exits 1 unless a subclass says more."""

    status_code = 500
    exit_code = 1
    code = "internal_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The error envelope body: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ConfigError(DriftloopError):
    """A configuration value is missing, unknown or of the wrong type."""

    status_code = 500
    exit_code = 2
    code = "invalid_config"


class DataError(DriftloopError):
    """Input data cannot be read or does not fit the expected schema."""

    status_code = 400
    exit_code = 3
    code = "invalid_data"


class NotFoundError(DriftloopError):
    """A named thing (file, model version, alias, baseline) does not exist."""

    status_code = 404
    exit_code = 4
    code = "not_found"


class ModelNotFound(NotFoundError):
    """A registered model, version or alias does not exist."""

    code = "model_not_found"


class ViolationsFound(DriftloopError):
    """Data was checked against a baseline and broke at least one constraint."""

    status_code = 422
    exit_code = 5
    code = "constraint_violations"


class RegistryError(DriftloopError):
    """A registry operation was refused (for example promoting a rejected version)."""

    status_code = 409
    exit_code = 6
    code = "registry_conflict"


class TrainingError(DriftloopError):
    """Training could not produce a model from the given data."""

    status_code = 422
    exit_code = 7
    code = "training_failed"


class GateFailed(DriftloopError):
    """A trained version failed its gate: it was registered Rejected, nothing was promoted."""

    status_code = 422
    exit_code = 11
    code = "gate_failed"


class Unauthorized(DriftloopError):
    """A request lacks the configured API key."""

    status_code = 401
    exit_code = 8
    code = "unauthorized"


class UnsupportedMediaType(DataError):
    """A request body in a content type the endpoint does not read."""

    status_code = 415
    code = "unsupported_media_type"


class ClientTimeout(DataError):
    """A client sent a request's headers or body more slowly than `serving.header_timeout` or
    `serving.body_timeout` allow."""

    status_code = 408
    code = "request_timeout"


class NotAcceptable(DataError):
    """A request asks (Accept) for a response type the endpoint does not write."""

    status_code = 406
    code = "not_acceptable"


class PayloadTooLarge(DataError):
    """A request body or row count over the configured limit."""

    status_code = 413
    code = "payload_too_large"


class ModelError(DriftloopError):
    """The model failed while answering a request."""

    status_code = 500
    code = "model_error"


class NotReady(DriftloopError):
    """An endpoint has no model loaded yet, or its models failed to load (/ping and requests)."""

    status_code = 503
    code = "not_ready"


class RequestTimeout(DriftloopError):
    """A request ran past the configured time limit."""

    status_code = 504
    code = "timeout"


class NotificationFailed(DriftloopError):
    """At least one subscription of a topic could not be reached (all were tried).

    ``results`` are the notifier's per-subscription outcomes (``subscription``, ``ok``, ``error``).
    """

    code = "notification_failed"

    def __init__(self, topic: str, results: list[Any]) -> None:
        failed = [result for result in results if not result.ok]
        named = "; ".join(f"{result.subscription}: {result.error}" for result in failed)
        super().__init__(
            f"topic {topic!r}: {len(failed)} of {len(results)} subscriptions failed: {named}",
            details={"topic": topic, "failed": [result.subscription for result in failed]},
        )
        self.results = results


class TargetFailed(DriftloopError):
    """A delivery target (command, retraining) reported failure."""

    code = "target_failed"


class PipelineFailed(DriftloopError):
    """A step failed; the run is Failed and can be resumed. Exits with the step error's code."""

    code = "pipeline_failed"

    def __init__(self, message: str, cause: BaseException, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        if isinstance(cause, DriftloopError):
            self.exit_code, self.status_code = cause.exit_code, cause.status_code


class PipelineStateError(DriftloopError):
    """The run is in a state that does not allow the request (e.g. resuming a Succeeded run)."""

    status_code = 409
    exit_code = 10
    code = "pipeline_conflict"


class DeploymentRolledBack(DriftloopError):
    """A watched alarm went to ALARM during a deployment, and the previous config is back."""

    status_code = 409
    exit_code = 9
    code = "deployment_rolled_back"


class DeploymentInProgress(DriftloopError):
    """Another live process is deploying to the endpoint."""

    status_code = 409
    exit_code = 12
    code = "deployment_in_progress"


class CloudError(DriftloopError):
    """A cloud service refused or failed a call (denied, throttled, a missing bucket); the
    message names the service, the operation and what it said."""

    status_code = 502
    exit_code = 13
    code = "cloud_error"


class StoreUnavailable(DriftloopError):
    """A workspace store (a SQLite file) is locked by another process, corrupt or cannot be
    opened; the message names the file and what to do."""

    status_code = 503
    exit_code = 14
    code = "store_unavailable"
