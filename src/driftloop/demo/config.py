"""The demo's folder and configuration: a fresh workspace with alarms, a rule and guardrails.

The written ``driftloop.toml`` is a working example of the closed loop's settings; the demo
runs on it exactly as `driftloop agent` and `driftloop serve` would.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from driftloop.config import DemoSettings, Settings, load_settings
from driftloop.errors import ConfigError

MARKER = ".driftloop-demo"
ENDPOINT = "churn"
TOPIC = "ops"
SCHEDULE = "demo"
DRIFT_ALARM = "churn-data-drift"
LATENCY_ALARM = "churn-candidate-latency"
ERROR_ALARM = "churn-candidate-errors"
RETRAIN_RULE = "retrain-on-drift"

_TOML = """\
# Written by `driftloop demo`: the closed loop's configuration. Copy what you need.
[training]
candidates = ["logistic_regression", "hist_gradient_boosting"]

[serving]
# Short flushes and polls, so alarms see the endpoint's datapoints within seconds.
metrics_flush_s = 1.0
config_poll_s = 0.2

[agent]
tick_s = 1.0

[retrain]
# Labelled captured traffic of the last day joins the training snapshot.
window = "P1D"
min_labels = {min_labels}
cooldown = "PT1H"
max_per_day = 3
# A passing challenger is rolled out at once with the [deploy] guardrails.
deploy = true

[deploy]
strategy = "canary"
canary_percent = 10.0
# Production deployments bake for minutes; the demo bakes seconds.
bake = "PT{bake_s:g}S"
poll = "PT1S"
alarms = ["{latency}", "{errors}"]
topic = "{topic}"

[[notifications.topics]]
name = "{topic}"
[[notifications.topics.subscriptions]]
protocol = "file"
endpoint = "notifications/{topic}.jsonl"

# Model Monitor's violations of a monitoring run (baseline drift included) on the endpoint.
[[alarms]]
AlarmName = "{drift}"
AlarmDescription = "Monitoring found violations in the captured traffic"
Namespace = "aws/sagemaker/Endpoints/data-metrics"
MetricName = "violations"
Dimensions = [{{Name = "Endpoint", Value = "{endpoint}"}}, \
{{Name = "MonitoringSchedule", Value = "{schedule}"}}]
Statistic = "Maximum"
Period = 10
EvaluationPeriods = 1
Threshold = 1
ComparisonOperator = "GreaterThanOrEqualToThreshold"
TreatMissingData = "ignore"
AlarmActions = ["{topic}"]
OKActions = ["{topic}"]

# The guardrails of every deployment: a new variant that is slow or failing rolls back.
[[alarms]]
AlarmName = "{latency}"
Namespace = "AWS/SageMaker"
MetricName = "ModelLatency"
Dimensions = [{{Name = "EndpointName", Value = "{endpoint}"}}, \
{{Name = "VariantName", Value = "Candidate"}}]
Statistic = "Average"
Period = 10
EvaluationPeriods = 1
Threshold = 20000
ComparisonOperator = "GreaterThanThreshold"
TreatMissingData = "notBreaching"
AlarmActions = ["{topic}"]

[[alarms]]
AlarmName = "{errors}"
Namespace = "AWS/SageMaker"
MetricName = "Invocation5XXErrors"
Dimensions = [{{Name = "EndpointName", Value = "{endpoint}"}}, \
{{Name = "VariantName", Value = "Candidate"}}]
Statistic = "Sum"
Period = 10
EvaluationPeriods = 1
Threshold = 1
ComparisonOperator = "GreaterThanOrEqualToThreshold"
TreatMissingData = "notBreaching"
AlarmActions = ["{topic}"]
"""


def demo_toml(demo: DemoSettings) -> str:
    """The demo's ``driftloop.toml``."""
    return _TOML.format(
        min_labels=max(demo.drifted_requests // 3, 50),
        bake_s=demo.bake_s,
        latency=LATENCY_ALARM,
        errors=ERROR_ALARM,
        drift=DRIFT_ALARM,
        topic=TOPIC,
        endpoint=ENDPOINT,
        schedule=SCHEDULE,
    )


def retrain_rule() -> dict[str, object]:
    """The rule that retrains when the drift alarm goes to ALARM (EventBridge's shape)."""
    return {
        "name": RETRAIN_RULE,
        "event_pattern": {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "detail": {"alarmName": [DRIFT_ALARM], "state": {"value": ["ALARM"]}},
        },
        "targets": [{"type": "retrain"}],
    }


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
