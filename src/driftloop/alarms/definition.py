"""Alarm definitions with the fields of ``aws cloudwatch put-metric-alarm``.

Both CloudWatch's PascalCase JSON keys (``--cli-input-json``) and snake_case names are accepted.
``parse_alarm`` turns validation failures into one-sentence ``ConfigError`` messages that name
the field.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_pascal

from driftloop.errors import ConfigError

Statistic = Literal["SampleCount", "Average", "Sum", "Minimum", "Maximum"]
Operator = Literal[
    "GreaterThanThreshold",
    "GreaterThanOrEqualToThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
]
TreatMissing = Literal["missing", "notBreaching", "breaching", "ignore"]
LowSampleCount = Literal["evaluate", "ignore"]

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
DATA_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
MODEL_NAMESPACE = "aws/sagemaker/Endpoints/model-metrics"
DRIFT_PREFIX = "feature_baseline_drift_"

KNOWN_METRICS: dict[str, frozenset[str]] = {
    SAGEMAKER_NAMESPACE: frozenset(
        {
            "Invocations",
            "Invocation4XXErrors",
            "Invocation5XXErrors",
            "InvocationModelErrors",
            "ModelLatency",
            "OverheadLatency",
        }
    ),
    DATA_NAMESPACE: frozenset(
        {"violations", "input_problems", "captured_rows", "dataset_drift_share", "dataset_drift"}
    ),
    MODEL_NAMESPACE: frozenset({"roc_auc", "precision", "recall", "f1", "accuracy"}),
}
"""Metrics the product writes, by namespace; ``feature_baseline_drift_<feature>`` is also known
in the data-metrics namespace."""

_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")
_SNS_ARN = re.compile(r"^arn:aws[\w-]*:sns:[\w-]*:\d*:(?P<topic>[\w.-]+)$")


def topics(actions: list[str]) -> list[str]:
    """Topic names of alarm actions: SNS ARNs become their last segment, names stay as given."""
    names = []
    for action in actions:
        match = _SNS_ARN.match(action)
        names.append(match["topic"] if match else action)
    return names


def is_known_metric(namespace: str, metric: str) -> bool:
    """Whether the product emits ``metric`` in ``namespace``."""
    if namespace == DATA_NAMESPACE and metric.startswith(DRIFT_PREFIX) and metric != DRIFT_PREFIX:
        return True
    return metric in KNOWN_METRICS.get(namespace, frozenset())


class AlarmDefinition(BaseModel):
    """One metric alarm, as ``put-metric-alarm`` describes it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=to_pascal)

    alarm_name: str = Field(min_length=1)
    alarm_description: str | None = None
    namespace: str = Field(min_length=1)
    metric_name: str = Field(min_length=1)
    dimensions: dict[str, str] = Field(default_factory=dict)
    statistic: Statistic | None = None
    extended_statistic: str | None = None
    period: int
    evaluation_periods: int = Field(ge=1)
    datapoints_to_alarm: int | None = Field(default=None, ge=1)
    threshold: float
    comparison_operator: Operator
    treat_missing_data: TreatMissing = "missing"
    evaluate_low_sample_count_percentile: LowSampleCount | None = None
    """Percentile alarms only: ``ignore`` keeps the state while a period has too few samples."""
    alarm_actions: list[str] = Field(default_factory=list)
    ok_actions: list[str] = Field(default_factory=list, alias="OKActions")
    insufficient_data_actions: list[str] = Field(default_factory=list)
    actions_enabled: bool = True
    unit: str | None = None

    @field_validator("dimensions", mode="before")
    @classmethod
    def _dimensions(cls, value: Any) -> Any:
        if isinstance(value, list):
            try:
                return {str(item["Name"]): str(item["Value"]) for item in value}
            except (TypeError, KeyError) as exc:
                raise ValueError("each dimension needs 'Name' and 'Value'") from exc
        return value

    @field_validator("period")
    @classmethod
    def _period(cls, value: int) -> int:
        if value not in (10, 30) and (value < 60 or value % 60):
            raise ValueError(f"must be 10, 30 or a multiple of 60 seconds, got {value}")
        return value

    @field_validator("extended_statistic")
    @classmethod
    def _extended(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _PERCENTILE.match(value)
        if not match or not 0 < float(match[1]) < 100:
            raise ValueError(f"must look like p99 or p99.9 with 0 < NN < 100, got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AlarmDefinition:
        if (self.statistic is None) == (self.extended_statistic is None):
            raise ValueError(
                "field 'statistic': give exactly one of statistic and extended_statistic"
            )
        if self.datapoints_to_alarm is None:
            self.datapoints_to_alarm = self.evaluation_periods
        elif self.datapoints_to_alarm > self.evaluation_periods:
            raise ValueError(
                f"field 'datapoints_to_alarm': {self.datapoints_to_alarm} is more than "
                f"evaluation_periods ({self.evaluation_periods})"
            )
        return self

    @property
    def stat(self) -> str:
        """The statistic to compute: a simple one or a percentile such as ``p99``."""
        return self.statistic or self.extended_statistic or ""

    @property
    def required(self) -> int:
        """Breaching datapoints needed for ALARM (M of M-of-N)."""
        return self.datapoints_to_alarm or self.evaluation_periods


def _known_text() -> str:
    parts = []
    for namespace, metrics in KNOWN_METRICS.items():
        names = sorted(metrics) + (
            [f"{DRIFT_PREFIX}<feature>"] if namespace == DATA_NAMESPACE else []
        )
        parts.append(f"{namespace} ({', '.join(names)})")
    return "; ".join(parts)


def _field_name(loc: tuple[int | str, ...]) -> str:
    aliases = {info.alias: name for name, info in AlarmDefinition.model_fields.items()}
    head = str(loc[0])
    return aliases.get(head, head)


def _error_sentence(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:
        return message
    return f"field '{_field_name(error['loc'])}': {message}"


def parse_alarm(data: dict[str, Any], *, strict: bool = False) -> AlarmDefinition:
    """Validate an alarm definition; ``strict`` also rejects metrics the product never writes."""
    name = data.get("AlarmName") or data.get("alarm_name") or "?"
    try:
        alarm = AlarmDefinition.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"alarm '{name}': {_error_sentence(exc.errors()[0])}") from None
    if strict and not is_known_metric(alarm.namespace, alarm.metric_name):
        raise ConfigError(
            f"alarm '{name}': field 'metric_name': unknown metric {alarm.metric_name!r} in "
            f"namespace {alarm.namespace!r}; known: {_known_text()}"
        )
    return alarm
