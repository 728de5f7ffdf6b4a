"""`driftloop monitor run` on the aws backend, against moto: the baseline registered on S3,
SageMaker capture files read from S3, the run's files written to S3, its datapoints put to
CloudWatch and its event on EventBridge; the verdicts equal the local backend's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from driftloop.backends.catalog import Backends
from driftloop.capture.writer import capture_record
from driftloop.config import Settings
from driftloop.data.generator import generate
from driftloop.monitoring.job import DATA_NAMESPACE, run_monitoring
from tests.aws import BUCKET, REGION, settings_for
from tests.workspaces import churn_endpoint

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("moto_updates_endpoints")]
ONE_MODEL = {"candidates": ["logistic_regression"]}


def _trained(kind: str, root: Path, request: pytest.FixtureRequest) -> Settings:
    """A model trained and registered on ``kind``, behind an endpoint "churn"."""
    root.mkdir()
    return churn_endpoint(settings_for(kind, root / ".driftloop", request), root, rows=3000)


def _capture(settings: Settings, when: datetime) -> None:
    """What the endpoint's data capture writes: drifted traffic, one record per request."""
    frame = generate(400, seed=22, scenario="price_rise", strength=2.0)
    rows = frame.drop(columns=["customerID", "Churn"]).to_dict(orient="records")
    lines = [
        capture_record(
            request=orjson.dumps(row),
            request_type="application/json",
            response=b'{"predictions": [0]}',
            response_type="application/json",
            event_id=f"e-{number}",
            inference_id=None,
            when=when,
        )
        for number, row in enumerate(rows)
    ]
    Backends.from_settings(settings).capture.write("churn", "AllTraffic", lines, when)


def _client(settings: Settings, service: str) -> Any:
    url = settings.aws.endpoint_urls[service]
    return boto3.client(service, region_name=REGION, endpoint_url=url)  # type: ignore[call-overload]


def test_a_monitoring_run_on_aws_reads_and_writes_through_the_cloud(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    local = _trained("local", tmp_path / "local", request)
    _capture(local, now)
    expected = run_monitoring(
        local, "churn", now - timedelta(minutes=5), now + timedelta(minutes=1)
    )

    settings = _trained("aws", tmp_path / "aws", request)
    version = Backends.from_settings(settings).registry.get_version("churn-model", 1)
    assert version.baseline_uri is not None
    assert version.baseline_uri.startswith(f"s3://{BUCKET}/team/churn/baselines/")
    _capture(settings, now)
    run = run_monitoring(settings, "churn", now - timedelta(minutes=5), now + timedelta(minutes=1))

    assert (run.rows, run.status) == (400, "CompletedWithViolations")
    assert (run.rows, run.status, run.violations) == (
        expected.rows,
        expected.status,
        expected.violations,
    )
    assert run.drift is not None and expected.drift is not None
    assert [c.column for c in run.drift.columns if c.drifted] == [
        c.column for c in expected.drift.columns if c.drifted
    ]
    stamp = run.folder.name
    assert run.results == f"s3://{BUCKET}/team/churn/monitoring/churn/{stamp}"
    s3 = _client(settings, "s3")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"team/churn/monitoring/churn/{stamp}/")
    names = {item["Key"].rsplit("/", 1)[1] for item in listed["Contents"]}
    assert {"statistics.json", "constraint_violations.json", "run.json", "report.html"} <= names
    key = f"team/churn/monitoring/churn/{stamp}/constraint_violations.json"
    violations = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert violations == {"violations": run.violations}
    metrics = _client(settings, "cloudwatch").list_metrics(Namespace=DATA_NAMESPACE)["Metrics"]
    assert {"violations", "captured_rows", "dataset_drift"} <= {m["MetricName"] for m in metrics}
    [event] = [
        e
        for e in Backends.from_settings(settings).events.read_events()
        if e["detail-type"] == "Monitoring Run Completed"
    ]
    assert event["detail"]["results"] == run.results and event["detail"]["violations"] > 0
