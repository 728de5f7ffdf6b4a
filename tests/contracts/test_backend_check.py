"""Every backend says what it needs before the loop runs on it (`driftloop backend check`)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from driftloop.backends.catalog import check
from driftloop.cli.main import main
from driftloop.config import Settings
from tests.aws import REGION, settings_for

STORES = ()
"""No store: every backend kind is checked."""


def test_a_ready_backend_passes_every_check(
    backend_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    settings = settings_for(backend_kind, tmp_path / ".driftloop", request)
    checks = check(settings)
    assert checks and all(item.ok for item in checks), checks
    if backend_kind == "aws":
        assert [item.name for item in checks] == ["region", "credentials", "bucket", "versioning"]


def test_the_aws_bucket_must_exist_and_be_versioned(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    settings = settings_for("aws", tmp_path / ".driftloop", request)
    url = settings.aws.endpoint_urls["s3"]
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=url)
    plain = _with_bucket(settings, "plain-bucket")
    s3.create_bucket(Bucket="plain-bucket")
    [*_, versioning] = check(plain)
    assert not versioning.ok and "--enable-versioning" in versioning.detail
    assert check(plain, enable_versioning=True)[-1].ok
    assert s3.get_bucket_versioning(Bucket="plain-bucket")["Status"] == "Enabled"
    [*_, missing] = check(_with_bucket(settings, "no-such-bucket"))
    assert (missing.name, missing.ok) == ("bucket", False) and "does not exist" in missing.detail


def test_the_command_prints_the_checks_and_fails_with_the_first_problem(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = settings_for("aws", tmp_path / ".driftloop", request)
    aws = settings.aws.model_copy(update={"bucket": "no-such-bucket"})
    config = tmp_path / "driftloop.toml"
    urls = ", ".join(f'"{k}" = "{v}"' for k, v in aws.endpoint_urls.items())
    config.write_text(
        f'[backend]\nkind = "aws"\n[aws]\nbucket = "{aws.bucket}"\nregion = "{REGION}"\n'
        f"max_attempts = 1\nendpoint_urls = {{{urls}}}\n"
    )
    monkeypatch.setenv("DRIFTLOOP_HOME", str(tmp_path / ".driftloop"))
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as done:
        main(["--config", str(config), "backend", "check"])
    assert done.value.code == 13
    printed = capsys.readouterr()
    assert "versioning" not in printed.out  # the checks stop at the missing bucket
    assert "s3://no-such-bucket does not exist" in " ".join(printed.err.split())


def _with_bucket(settings: Settings, bucket: str) -> Settings:
    aws = settings.aws.model_copy(update={"bucket": bucket})
    return settings.model_copy(update={"aws": aws})
