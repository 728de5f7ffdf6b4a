"""Typed settings: built-in defaults (the Telco demo), an optional ``driftloop.toml``, then
``DRIFTLOOP_*`` environment variables (nested keys joined with ``__``, for example
``DRIFTLOOP_GATE__MIN_IMPROVEMENT``).

A wrong value fails at start with one sentence naming the key (:class:`ConfigError`). Every
length of time is one type (:mod:`driftloop.durations`): seconds, ``15m`` or ISO 8601 ``PT15M``.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from driftloop.durations import (
    Duration,
    Interval,
    NonNegativeDuration,
    PositiveDuration,
)
from driftloop.errors import ConfigError, first_problem
from driftloop.names import safe_name
from driftloop.workspace import Workspace

CONFIG_FILE = "driftloop.toml"
ENV_PREFIX = "DRIFTLOOP_"
CandidateName = Literal["logistic_regression", "hist_gradient_boosting", "lightgbm"]
MetricName = Literal[
    "roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss", "brier"
]

RETRAIN_ON_VIOLATIONS: dict[str, Any] = {
    "name": "retrain-on-violations",
    "event_pattern": {
        "source": ["driftloop.monitoring"],
        "detail-type": ["Monitoring Run Completed"],
        "detail": {"status": ["CompletedWithViolations"]},
    },
    "targets": [{"type": "retrain"}],
}
"""The default rule: every monitoring run that finds violations (drift included) asks for a
retrain, so sustained drift keeps retraining (within the cooldown, the daily cap and
``min_labels``), where an alarm would fire once and stay in ALARM."""

_toml_path: ContextVar[Path | None] = ContextVar("driftloop_toml_path", default=None)


def _file_name(value: str) -> str:
    try:
        return safe_name(value)
    except ConfigError as exc:
        raise ValueError(exc.message) from None


FileName = Annotated[str, AfterValidator(_file_name)]
"""A name that reaches a file, folder or URL path (model, topic): the one pattern of names.py."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _old_seconds_keys(cls, data: Any) -> Any:
        """Durations that used to be seconds under a ``_s`` key (``tick_s``) are read under
        the old name too; the new name wins when both are given."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key in [k for k in data if isinstance(k, str) and k.endswith("_s")]:
            if key[:-2] in cls.model_fields and key not in cls.model_fields:
                data.setdefault(key[:-2], data.pop(key))
        return data


SubscriptionProtocol = Literal["file", "webhook", "slack", "email", "sqs"]


class Subscription(_Section):
    protocol: SubscriptionProtocol
    """How to deliver: ``file``, ``webhook``, ``slack``, ``email`` or (aws backend) ``sqs``."""
    endpoint: str = Field(min_length=1)
    """File path, http(s) URL, email address or SQS queue ARN, depending on the protocol."""

    @model_validator(mode="after")
    def _endpoint_fits(self) -> Subscription:
        if self.protocol in ("webhook", "slack") and not self.endpoint.startswith(
            ("http://", "https://")
        ):
            raise ValueError(f"a {self.protocol} endpoint must be an http(s) URL")
        if self.protocol == "email" and "@" not in self.endpoint:
            raise ValueError("an email endpoint must be an address")
        if self.protocol == "sqs" and not self.endpoint.startswith("arn:aws"):
            raise ValueError("an sqs endpoint must be a queue ARN (arn:aws:sqs:...)")
        return self


class Topic(_Section):
    name: FileName
    """Topic name that rules and alarms publish to."""
    subscriptions: list[Subscription] = []
    """Where each message published to the topic goes."""


class SmtpSettings(_Section):
    host: str = "127.0.0.1"
    """SMTP relay host."""
    port: int = Field(default=25, gt=0, lt=65536)
    """SMTP relay port."""
    sender: str = "driftloop@localhost"
    """From address of notification emails."""
    username: str | None = None
    """Login name, if the relay needs one."""
    password: SecretStr | None = None
    """Login password, if the relay needs one."""
    starttls: bool = False
    """Upgrade the connection with STARTTLS before sending."""
    timeout: PositiveDuration = timedelta(seconds=10)
    """How long to wait for the relay."""


class NotificationSettings(_Section):
    topics: list[Topic] = []
    """Notification topics and their subscriptions."""
    smtp: SmtpSettings = SmtpSettings()
    """SMTP relay used by email subscriptions."""

    @model_validator(mode="after")
    def _unique_topics(self) -> NotificationSettings:
        names = [topic.name for topic in self.topics]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"topic names must be unique: {', '.join(duplicates)}")
        return self


class BackendSettings(_Section):
    kind: Literal["local", "aws"] = "local"
    """Where the loop keeps its state: "local" is the workspace folder (files and SQLite),
    "aws" is S3, CloudWatch, SNS, EventBridge and SQS (the ``[aws]`` section; needs
    ``pip install "driftloop[aws]"``)."""


AWS_SERVICES = (
    "s3",
    "cloudwatch",
    "sns",
    "events",
    "sqs",
    "sagemaker",
    "sagemaker-runtime",
    "sts",
)


class AwsSettings(_Section):
    """Where the aws backend keeps things. Credentials come from the usual AWS chain
    (environment, profile, instance role), never from this file."""

    region: str | None = None
    """AWS region; unset: the chain's (``AWS_REGION``, the profile)."""
    bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    """S3 bucket of snapshots, captures, labels, events and monitoring results."""
    prefix: str = Field(default="driftloop", pattern=r"^[A-Za-z0-9!_.*'()/-]*$")
    """Key prefix inside the bucket (no leading or trailing slash needed)."""
    role_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    """SageMaker execution role."""
    training_image: str | None = None
    """Training image URI (SageMaker's scikit-learn image, or driftloop's own)."""
    inference_image: str | None = None
    """Inference image URI (driftloop's container)."""
    training_instance_type: str = "ml.m5.large"
    """Instance type of training jobs."""
    inference_instance_type: str = "ml.m5.large"
    """Instance type of endpoint variants."""
    event_bus: str = "default"
    """EventBridge bus driftloop's events are put on."""
    queue: str = "driftloop-deliveries"
    """SQS queue the rules' retrain targets send to; the agent consumes it."""
    max_attempts: int = Field(default=3, ge=1, le=10)
    """Attempts per AWS call (botocore's standard retry mode)."""
    endpoint_urls: dict[str, str] = {}
    """Per-service endpoint URL overrides for moto or LocalStack, e.g.
    {s3 = "http://127.0.0.1:5000"}; keys: s3, cloudwatch, sns, events, sqs, sagemaker,
    sagemaker-runtime, sts."""

    @model_validator(mode="after")
    def _known_services(self) -> AwsSettings:
        unknown = sorted(set(self.endpoint_urls) - set(AWS_SERVICES))
        if unknown:
            raise ValueError(f"endpoint_urls has unknown service(s) {', '.join(unknown)}")
        return self


class DataSettings(_Section):
    target: str = "Churn"
    """Target column of the training data."""
    positive_label: str = "Yes"
    """Value of the target column that counts as the positive class."""
    id_columns: list[str] = ["customerID"]
    """Identifier columns: kept out of features and dropped by preprocessing."""
    drop_columns: list[str] = []
    """Other columns to leave out of the features (a label-leaking or a calendar column)."""
    column_types: dict[str, Literal["numeric", "categorical"]] = {
        "SeniorCitizen": "categorical",
        "TotalCharges": "numeric",
    }
    """Column kinds that override inference (every other column is inferred from its values)."""
    validation_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)
    """Share of rows held out for validation by the stratified split."""
    seed: int = 42
    """Seed of the train/validation split."""


class TrainingSettings(_Section):
    candidates: list[CandidateName] = Field(
        default=["logistic_regression", "hist_gradient_boosting"], min_length=1
    )
    """Candidate models, each fitted as a scikit-learn pipeline taking raw columns."""
    primary_metric: MetricName = "roc_auc"
    """Validation metric that picks the best candidate and compares it with the champion."""
    threshold: Annotated[float, Field(gt=0.0, lt=1.0)] | Literal["f1", "cost"] = 0.5
    """Probability at or above which a row is predicted positive; or chosen on validation data:
    "f1" (the F1-optimal one) or "cost" (least `cost_ratio` x missed positives + false
    alarms). The chosen value is logged and served with the model."""
    cost_ratio: float = Field(default=1.0, gt=0.0)
    """With threshold = "cost": what one missed positive costs, counted in false positives."""
    seed: int = 42
    """Seed of every model, so runs are reproducible."""
    experiment: str = "driftloop"
    """MLflow experiment that holds the training runs."""
    artifact_root: str | None = Field(default=None, pattern=r"^(s3|file)://.+")
    """Where MLflow keeps the experiment's run artifacts and models, set when the experiment
    is created: unset, the workspace's `mlartifacts` folder; an `s3://bucket/prefix` URI (the
    aws bucket, say) puts them on S3 through MLflow's S3 store (credentials from the AWS chain,
    `MLFLOW_S3_ENDPOINT_URL` for moto or LocalStack)."""


class RegistrySettings(_Section):
    model_name: FileName = "churn-model"
    """Registered model name in the MLflow registry."""


class GateSettings(_Section):
    min_metrics: dict[MetricName, float] = {"roc_auc": 0.80}
    """Floors a new version must reach on validation data (log_loss and brier are ceilings)."""
    min_improvement: float = Field(default=0.0, ge=0.0)
    """Margin by which a new version must beat the champion's primary metric on the same holdout."""
    require_approval: bool = False
    """Leave gate-passing versions at PendingManualApproval until `driftloop models approve`."""


class ServingSettings(_Section):
    endpoint: str | None = None
    """Endpoint `driftloop serve` runs when none is named on the command line."""
    model_dir: Path | None = None
    """SageMaker container mode: serve the MLflow model in this folder (SM_MODEL_DIR)."""
    host: str = "127.0.0.1"
    """Address `driftloop serve` binds to; any non-loopback address needs `api_key` (and
    should have `tls_certfile`/`tls_keyfile`, so the key does not travel in clear)."""
    port: int = Field(default=8080, ge=1, le=65535)
    """Port (8080 is SageMaker's container port)."""
    workers: int = Field(default=2, ge=1, le=64)
    """Worker processes."""
    api_key: SecretStr | None = None
    """Bearer token required on every request except /ping when set."""
    max_payload_mb: float = Field(default=6.0, gt=0)
    """Largest request body in MB; larger ones get 413 (SageMaker's limit is 6 MB)."""
    max_rows: int = Field(default=10_000, ge=1)
    """Most rows in one request; more get 413."""
    request_timeout: PositiveDuration = timedelta(seconds=60)
    """A request running longer is answered 504 (SageMaker's limit is 60 s)."""
    header_timeout: PositiveDuration = timedelta(seconds=10)
    """A request's headers must all arrive within this of its first byte (of the connection's
    start for a new connection), however slowly they trickle; later is answered 408 and the
    connection closed (one that sent nothing is closed silently)."""
    body_timeout: PositiveDuration = timedelta(seconds=60)
    """A request's whole body must arrive within this once its headers are read (time the
    endpoint itself is not reading, as while a worker loads its model, does not count); later
    is answered 408 and the connection closed."""
    tls_certfile: Path | None = None
    """PEM certificate (chain) to serve HTTPS with; needs `tls_keyfile`. Off loopback an
    `api_key` is still required: TLS encrypts the traffic, the key says who may call."""
    tls_keyfile: Path | None = None
    """PEM private key of `tls_certfile`."""
    tls_keyfile_password: SecretStr | None = None
    """Password of an encrypted `tls_keyfile`."""
    tls_ca_certs: Path | None = None
    """PEM CA bundle: when set, clients must present a certificate it signed (mutual TLS)."""
    graceful_timeout: PositiveDuration = timedelta(seconds=30)
    """On SIGTERM, how long in-flight requests may take before workers stop."""
    config_poll: PositiveDuration = timedelta(seconds=0.5)
    """How often each worker looks for a changed endpoint config."""
    metrics_flush: PositiveDuration = timedelta(seconds=10)
    """How often each worker writes its per-minute datapoints to the metric store."""


DriftMethod = Literal["ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi"]


class DriftSettings(_Section):
    """How drift is judged: per-column method and threshold overrides and the dataset share."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    methods: dict[str, DriftMethod] = {}
    """Per-column test replacing the default choice, e.g. {MonthlyCharges = "psi"}."""
    thresholds: dict[str, Annotated[float, Field(ge=0.0, allow_inf_nan=False)]] = {}
    """Per-column threshold replacing the method's default (0.05 for p-values, 0.1 else)."""
    drift_share: float = Field(default=0.5, ge=0.0, le=1.0)
    """Dataset drift when at least this share of the features drifted."""


class ScheduleSettings(_Section):
    endpoint: str = Field(min_length=1)
    """Endpoint whose captured traffic the agent monitors."""
    every: Interval = timedelta(minutes=15)
    """Interval, at least one minute (15m, 1h)."""


class MonitoringSettings(_Section):
    drift: DriftSettings = DriftSettings()
    """Drift tests (Evidently 0.7's defaults unless overridden)."""
    label_start_offset: Duration | None = None
    """Model Monitor's StartTimeOffset (ISO 8601, e.g. "-P8D"): model quality judges captures
    from the run's end plus this, so late labels have time to arrive. Unset: the run's window."""
    label_end_offset: Duration | None = None
    """Model Monitor's EndTimeOffset (e.g. "-P1D"); unset: the run's end."""
    min_labels: int = Field(default=20, ge=1)
    """Labelled rows needed before model quality is measured rather than estimated."""
    quality_tolerance: float | None = Field(default=0.05, ge=0.0)
    """A run whose measured ROC AUC is more than this below the model version's validation ROC
    AUC is a violation (`model_quality_check`, Model Monitor's LessThanThreshold), so a change in
    what the labels say is caught even when the inputs look the same. Unset: no such check."""
    report_max_rows: int = Field(default=20_000, ge=100)
    """Rows per side of the Evidently HTML report (larger windows are sampled for it)."""
    every: Interval = timedelta(minutes=15)
    """Default interval of `driftloop monitor schedule`."""
    schedules: list[ScheduleSettings] = []
    """Monitoring jobs `driftloop agent` runs, e.g. [{endpoint = "churn", every = "15m"}]."""


class RetrainSettings(_Section):
    """When a drift or quality event may retrain, and on which data."""

    history: Literal["all", "sliding"] = "all"
    """Training data of a retrain: "all" is the original training data plus every labelled
    captured row (within `window` when set); "sliding" is only the labelled captured rows of
    the last `window`, the original data left out."""
    window: PositiveDuration | None = None
    """How far back labelled captured traffic is read (ISO 8601 like "P30D"); unset: all of it."""
    min_labels: int = Field(default=200, ge=1)
    """Fewest labelled captured rows new to the champion (captured after the traffic it trained
    on) a retrain needs; with fewer it is skipped."""
    cooldown: NonNegativeDuration = timedelta(hours=1)
    """Shortest time between two retrains of an endpoint (``--force`` ignores it)."""
    max_per_day: int = Field(default=3, ge=1)
    """Most retrains of an endpoint in any 24 hours (``--force`` ignores it)."""
    recent_fraction: float = Field(default=0.3, gt=0.0, lt=1.0)
    """Share of the labelled rows new to the champion held out, the most recent ones, as the
    data the challenger and the champion are compared on; neither trains on them."""
    recent_max_rows: int = Field(default=500, ge=50)
    """Most rows held out that way: the rest of the newest traffic is trained on."""
    deploy: bool = False
    """Roll a passing, Approved challenger out at once with the ``[deploy]`` guardrails (the
    agent runs the deployment in the background); otherwise `driftloop deploy` does it."""

    @model_validator(mode="after")
    def _sliding_needs_window(self) -> RetrainSettings:
        if self.history == "sliding" and self.window is None:
            raise ValueError('history = "sliding" needs a window (for example "P7D")')
        return self


class DeploySettings(_Section):
    """How `driftloop deploy` (and a retrain's roll-out) moves traffic; CLI options override."""

    strategy: Literal["all-at-once", "canary", "linear", "shadow"] = "canary"
    """How traffic moves to the new version."""
    canary_percent: float = Field(default=10.0, gt=0, lt=100)
    """Canary: share of traffic (%) the new version gets while it bakes."""
    linear_step_percent: float = Field(default=25.0, gt=0, lt=100)
    """Linear: share of traffic (%) moved at each step."""
    interval: PositiveDuration = timedelta(minutes=1)
    """Linear: time between steps."""
    bake: NonNegativeDuration = timedelta(minutes=5)
    """How long the full-traffic step (and the canary) bakes while the alarms are watched."""
    alarms: list[str] = []
    """Alarms whose ALARM state rolls the deployment back."""
    poll: PositiveDuration = timedelta(seconds=5)
    """How often the watched alarms are evaluated during a bake."""
    topic: str | None = None
    """Notification topic told of every deployment step."""


class PipelineSettings(_Section):
    """The training pipeline's step cache, like SageMaker Pipelines' CacheConfig."""

    cache: bool = True
    """Reuse a step's earlier result when its inputs, parameters and code are unchanged."""
    cache_expire_after: NonNegativeDuration | None = None
    """Cached results older than this are recomputed (ISO 8601 like "P30D"); unset: never."""


class AgentSettings(_Section):
    tick: PositiveDuration = timedelta(seconds=10)
    """How often `driftloop agent` evaluates alarms and delivers events."""
    metric_retention_days: int = Field(default=15, ge=1)
    """Datapoints older than this are pruned from the metric store."""


class DemoSettings(_Section):
    folder: Path = Path("driftloop-demo")
    """Folder the demo builds its workspace and config in (a previous demo there is replaced)."""
    rows: int = Field(default=5000, ge=200)
    """Rows the demo generates for training v1."""
    seed: int = 7
    """Seed of the demo's generated data."""
    normal_requests: int = Field(default=1500, ge=100)
    """Undrifted requests (one customer each) sent before the drift starts."""
    drifted_requests: int = Field(default=3000, ge=100)
    """Drifted requests sent once the drift starts; their labels feed the retraining."""
    scenario: str = "price_shock"
    """Generator scenario of the drifted traffic (`driftloop data scenarios` lists them)."""
    strength: float = Field(default=1.0, gt=0)
    """Strength of the drift scenario."""
    label_delay: NonNegativeDuration = timedelta(seconds=2)
    """How late each request's ground-truth label arrives at the endpoint's /labels."""
    bake: PositiveDuration = timedelta(seconds=15)
    """Bake time of each deployment step in the demo (production deployments bake minutes)."""
    workers: int = Field(default=2, ge=1, le=8)
    """Worker processes of the demo's endpoint."""


class Settings(BaseSettings):
    """All driftloop settings. Sections mirror the tables of ``driftloop.toml``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        use_attribute_docstrings=True,
    )

    home: Path = Path(".driftloop")
    """Workspace folder holding all local state (MLflow store, snapshots, baselines, reports)."""
    backend: BackendSettings = BackendSettings()
    """The backend every store is built for."""
    aws: AwsSettings = AwsSettings()
    """The aws backend's region, bucket and services (used when backend.kind is "aws")."""
    data: DataSettings = DataSettings()
    """Input data: target, identifiers, column kinds and the train/validation split."""
    training: TrainingSettings = TrainingSettings()
    """Candidate models and how the best one is chosen."""
    registry: RegistrySettings = RegistrySettings()
    """Where trained models are registered."""
    gate: GateSettings = GateSettings()
    """What a new version must reach before it may become champion."""
    serving: ServingSettings = ServingSettings()
    """The endpoint server."""
    monitoring: MonitoringSettings = MonitoringSettings()
    """Monitoring jobs over captured traffic."""
    alarms: list[dict[str, Any]] = []
    """Alarms as `aws cloudwatch put-metric-alarm` fields; the agent loads them at start."""
    rules: list[dict[str, Any]] = [RETRAIN_ON_VIOLATIONS]
    """Event rules (EventBridge's shape: name, event_pattern, targets); the agent puts them at
    start. The default retrains after every monitoring run that finds violations."""
    agent: AgentSettings = AgentSettings()
    """The `driftloop agent` process."""
    retrain: RetrainSettings = RetrainSettings()
    """When drift or quality events may retrain, and with which data."""
    deploy: DeploySettings = DeploySettings()
    """Deployment guardrails: strategy, traffic steps, bake time and the alarms that roll back."""
    pipeline: PipelineSettings = PipelineSettings()
    """The cached training pipeline (`driftloop pipeline run`)."""
    notifications: NotificationSettings = NotificationSettings()
    """SNS-style topics (file, webhook, Slack, email subscriptions) and the SMTP server."""
    demo: DemoSettings = DemoSettings()
    """The `driftloop demo` run."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _toml_path.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    @property
    def workspace(self) -> Workspace:
        return Workspace(self.home)

    @model_validator(mode="after")
    def _fits_the_backend(self) -> Settings:
        if self.backend.kind == "aws" and self.aws.bucket is None:
            raise ValueError('backend.kind "aws" needs aws.bucket (the S3 bucket it keeps to)')
        if self.backend.kind == "local":
            for topic in self.notifications.topics:
                if any(s.protocol == "sqs" for s in topic.subscriptions):
                    raise ValueError(
                        f'topic {topic.name}: sqs subscriptions need backend.kind "aws"'
                    )
        return self


class LogSettings(BaseSettings):
    """Logging, read from the environment only (``DRIFTLOOP_LOG_LEVEL``, ``DRIFTLOOP_LOG_FORMAT``):
    it starts before the config file is read."""

    model_config = SettingsConfigDict(
        env_prefix=f"{ENV_PREFIX}LOG_", extra="ignore", use_attribute_docstrings=True
    )

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = None
    """Level of driftloop's own log lines. Unset: INFO for the server, the agent and
    `monitor schedule`, WARNING for the other commands. Other libraries log warnings only."""
    format: Literal["text", "json"] = "text"
    """`text` (time, level, logger, request context, message) or `json` (one object a line)."""


def load_log_settings() -> LogSettings:
    """The logging settings from the environment; fail with one sentence naming the variable."""
    try:
        return LogSettings()
    except ValidationError as exc:
        key, message = first_problem(exc)
        raise ConfigError(f"{ENV_PREFIX}LOG_{key.upper()}: {message}") from None


def find_config_file(explicit: Path | None = None) -> Path | None:
    """``explicit``, else ``DRIFTLOOP_CONFIG``, else ``./driftloop.toml`` if it exists."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file not found: {explicit}")
        return explicit
    env = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path} (from {ENV_PREFIX}CONFIG)")
        return path
    local = Path(CONFIG_FILE)
    return local if local.is_file() else None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from defaults, the config file and the environment; fail with one sentence."""
    path = find_config_file(config_file)
    _check_env_keys()
    token = _toml_path.set(path)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
    except (OSError, ValueError) as exc:  # unreadable or invalid TOML
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    finally:
        _toml_path.reset(token)


def _check_env_keys() -> None:
    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields} | {
        f"{ENV_PREFIX}CONFIG"
    }
    known |= {f"{ENV_PREFIX}LOG_{name.upper()}" for name in LogSettings.model_fields}
    for key in os.environ:
        if not key.startswith(ENV_PREFIX):
            continue
        top = key.split("__", 1)[0]
        if top not in known:
            raise ConfigError(f"unknown config key in environment: {key}")


def _describe(exc: ValidationError, path: Path | None) -> str:
    error = exc.errors()[0]
    key, message = first_problem(exc)
    where = f" in {path}" if path else ""
    if error["type"] == "extra_forbidden":
        return f"unknown config key '{key}'{where}"
    value = error.get("input")
    shown = f" (got {value!r})" if not isinstance(value, dict) else ""
    return f"config key '{key}'{where}: {message}{shown}"
