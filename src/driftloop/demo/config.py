"""The demo's folder and configuration: a fresh workspace with alarms, a rule and guardrails.

The written ``driftloop.toml`` is a working example of the closed loop's settings; the demo
runs on it exactly as `driftloop agent` and `driftloop serve` would.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from driftloop.alarms.definition import DATA_NAMESPACE, SAGEMAKER_NAMESPACE, AlarmDefinition
from driftloop.config import RETRAIN_ON_VIOLATIONS, DemoSettings, Settings, load_settings
from driftloop.config_file import toml_value
from driftloop.durations import format_duration
from driftloop.errors import ConfigError
from driftloop.monitoring.job import schedule_name

MARKER = ".driftloop-demo"
ENDPOINT = "churn"
TOPIC = "ops"
SCHEDULE = schedule_name(ENDPOINT)
DRIFT_ALARM = "churn-data-drift"
LATENCY_ALARM = "churn-candidate-latency"
ERROR_ALARM = "churn-candidate-errors"


def _dimensions(**pairs: str) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in pairs.items()]


_ALARM_KEYS = [field.alias for field in AlarmDefinition.model_fields.values()]
_GUARDRAIL: dict[str, object] = {  # what the deployment's two guardrails share
    "Namespace": SAGEMAKER_NAMESPACE,
    "Dimensions": _dimensions(EndpointName=ENDPOINT, VariantName="Candidate"),
    "Period": 10,
    "EvaluationPeriods": 1,
    "TreatMissingData": "notBreaching",
    "AlarmActions": [TOPIC],
}
_ALARMS: list[tuple[str, dict[str, object]]] = [  # (comment, put-metric-alarm fields)
    (
        "Model Monitor's violations of a monitoring run (baseline drift included) on the endpoint.",
        {
            "AlarmName": DRIFT_ALARM,
            "AlarmDescription": "Monitoring found violations in the captured traffic",
            "Namespace": DATA_NAMESPACE,
            "MetricName": "violations",
            "Dimensions": _dimensions(Endpoint=ENDPOINT, MonitoringSchedule=SCHEDULE),
            "Statistic": "Maximum",
            "Period": 10,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "ignore",
            "AlarmActions": [TOPIC],
            "OKActions": [TOPIC],
        },
    ),
    (
        "The guardrails of every deployment: a new variant that is slow or failing rolls back.",
        {
            **_GUARDRAIL,
            "AlarmName": LATENCY_ALARM,
            "MetricName": "ModelLatency",
            "Statistic": "Average",
            "Threshold": 20000,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    ),
    (
        "",
        {
            **_GUARDRAIL,
            "AlarmName": ERROR_ALARM,
            "MetricName": "Invocation5XXErrors",
            "Statistic": "Sum",
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    ),
]

_RULE_NOTE = (
    "Every monitoring run that finds violations asks for a retrain (driftloop's default rule,"
    " shown here):\n# sustained drift keeps retraining, where the alarm fires once and stays."
)
_TOML = """\
# Written by `driftloop demo`: the closed loop's configuration. Copy what you need.
[training]
candidates = ["logistic_regression", "hist_gradient_boosting"]

[serving]
# Short flushes and polls, so alarms see the endpoint's datapoints within seconds.
metrics_flush = "1s"
config_poll = "200ms"

[agent]
tick = "1s"

[retrain]
# A retrain trains on the original data plus the labelled captured traffic of the last day,
# and is judged on the newest labelled traffic, which neither model has trained on.
window = "1d"
min_labels = {min_labels}
cooldown = "1h"
max_per_day = 3
# A passing challenger is rolled out at once with the [deploy] guardrails.
deploy = true

[deploy]
strategy = "canary"
canary_percent = 10.0
# Production deployments bake for minutes; the demo bakes seconds.
bake = "{bake}"
poll = "1s"
alarms = ["{latency}", "{errors}"]
topic = "{topic}"

[[notifications.topics]]
name = "{topic}"
[[notifications.topics.subscriptions]]
protocol = "file"
endpoint = "notifications/{topic}.jsonl"
"""


def demo_toml(demo: DemoSettings) -> str:
    """The demo's ``driftloop.toml``."""
    settings = _TOML.format(
        min_labels=max(demo.drifted_requests // 3, 50),
        bake=format_duration(demo.bake),
        latency=LATENCY_ALARM,
        errors=ERROR_ALARM,
        topic=TOPIC,
    )
    tables = [[*_comment(note), *_alarm_lines(alarm)] for note, alarm in _ALARMS]
    tables.append([*_comment(_RULE_NOTE), "[[rules]]", *_lines(RETRAIN_ON_VIOLATIONS)])
    return "\n".join([settings, *("\n".join(lines) + "\n" for lines in tables)])


def _comment(note: str) -> list[str]:
    return [f"# {note}"] if note else []


def _alarm_lines(alarm: dict[str, object]) -> list[str]:
    """One ``[[alarms]]`` table, its keys in put-metric-alarm's order."""
    return [
        "[[alarms]]",
        *_lines({key: alarm[key] for key in sorted(alarm, key=_ALARM_KEYS.index)}),
    ]


def _lines(table: dict[str, object]) -> list[str]:
    return [f"{key} = {toml_value(value)}" for key, value in table.items()]


def prepare(settings: Settings) -> tuple[Settings, Path]:
    """A fresh demo folder with its config; the demo's settings and the config's path."""
    folder = settings.demo.folder.resolve()
    if folder.exists():
        if (folder / MARKER).is_file():
            shutil.rmtree(folder)
        elif any(folder.iterdir()):
            raise ConfigError(
                f"{folder} exists and was not made by `driftloop demo`; remove it or set "
                "demo.folder (DRIFTLOOP_DEMO__FOLDER) to another folder",
                details={"folder": str(folder)},
            )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by `driftloop demo`; the next demo replaces this folder\n")
    path = folder / "driftloop.toml"
    path.write_text(demo_toml(settings.demo))
    demo = load_settings(path, home=folder / ".driftloop", demo=settings.demo.model_dump())
    return demo, path
