"""The CloudWatch dashboard of an endpoint: SageMaker's invocation, latency and error metrics
of every variant, and the datapoints driftloop's monitoring publishes (violations, drift, model
quality), in the namespaces and dimensions they are written with."""

from __future__ import annotations

from typing import Any

from driftloop.alarms.definition import (
    DATA_NAMESPACE,
    DRIFT_PREFIX,
    MODEL_NAMESPACE,
    SAGEMAKER_NAMESPACE,
)
from driftloop.infra.values import REGION, arn
from driftloop.monitoring.job import schedule_name

WIDTH, HEIGHT = 12, 6
"""Each graph is half the dashboard's 24 columns wide."""
ENDPOINT_PERIOD = 60
MONITORING_PERIOD = 300
QUALITY_METRICS = ("roc_auc", "f1", "precision", "recall", "accuracy")


def dashboard_body(endpoint: str, alarms: list[str]) -> dict[str, Any]:
    """The dashboard body (CloudWatch's JSON) of ``endpoint``, with the state of ``alarms``."""
    schedule = schedule_name(endpoint)
    monitoring = ["Endpoint", endpoint, "MonitoringSchedule", schedule]
    graphs = [
        _graph(
            "Invocations",
            [_search(endpoint, "Invocations", "Sum", "invocations")],
            "Sum",
            ENDPOINT_PERIOD,
        ),
        _graph(
            "ModelLatency (microseconds)",
            [
                _search(endpoint, "ModelLatency", "Average", "average"),
                _search(endpoint, "ModelLatency", "p99", "p99"),
            ],
            "Average",
            ENDPOINT_PERIOD,
        ),
        _graph(
            "Invocation errors (4XX, 5XX)",
            [
                _search(endpoint, "Invocation4XXErrors", "Sum", "errors4xx"),
                _search(endpoint, "Invocation5XXErrors", "Sum", "errors5xx"),
            ],
            "Sum",
            ENDPOINT_PERIOD,
        ),
        _graph(
            "Monitoring: violations and unusable capture lines",
            [
                [DATA_NAMESPACE, "violations", *monitoring],
                [DATA_NAMESPACE, "input_problems", *monitoring],
                [DATA_NAMESPACE, "captured_rows", *monitoring, {"yAxis": "right"}],
            ],
            "Maximum",
            MONITORING_PERIOD,
        ),
        _graph(
            "Drift: dataset drift share and per-feature baseline drift",
            [
                [DATA_NAMESPACE, "dataset_drift_share", *monitoring],
                [
                    {
                        "expression": (
                            f'SEARCH(\'{{"{DATA_NAMESPACE}",Endpoint,MonitoringSchedule}} '
                            f'Endpoint="{endpoint}" MonitoringSchedule="{schedule}" '
                            f"MetricName={DRIFT_PREFIX.rstrip('_')}', 'Maximum', "
                            f"{MONITORING_PERIOD})"
                        ),
                        "id": "features",
                        "label": "",
                    }
                ],
            ],
            "Maximum",
            MONITORING_PERIOD,
        ),
        _graph(
            "Model quality on late labels",
            [[MODEL_NAMESPACE, metric, *monitoring] for metric in QUALITY_METRICS],
            "Average",
            MONITORING_PERIOD,
        ),
    ]
    widgets = [
        {"type": "metric", "x": WIDTH * (n % 2), "y": HEIGHT * (n // 2), **graph}
        for n, graph in enumerate(graphs)
    ]
    if alarms:
        widgets.append(
            {
                "type": "alarm",
                "x": 0,
                "y": HEIGHT * ((len(graphs) + 1) // 2),
                "width": 2 * WIDTH,
                "height": 3,
                "properties": {
                    "title": "Alarms",
                    "alarms": [arn("cloudwatch", f"alarm:{name}") for name in alarms],
                },
            }
        )
    return {"widgets": widgets}


def _graph(title: str, metrics: list[Any], stat: str, period: int) -> dict[str, Any]:
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "view": "timeSeries",
            "stacked": False,
            "region": REGION,
            "stat": stat,
            "period": period,
            "metrics": metrics,
        },
    }


def _search(endpoint: str, metric: str, stat: str, id_: str) -> list[dict[str, Any]]:
    """A SEARCH over every variant of ``endpoint`` (one line per variant)."""
    expression = (
        f"SEARCH('{{{SAGEMAKER_NAMESPACE},EndpointName,VariantName}} "
        f'EndpointName="{endpoint}" MetricName="{metric}"\', \'{stat}\', {ENDPOINT_PERIOD})'
    )
    return [{"expression": expression, "id": id_, "label": ""}]
