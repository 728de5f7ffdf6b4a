"""The CLI's process-wide defaults."""

from __future__ import annotations

import os

import pytest

from driftloop.cli.main import main


@pytest.mark.parametrize(("given", "kept"), [(None, "true"), ("false", "false")])
def test_mlflow_s_usage_reports_are_off_unless_the_user_turns_them_on(
    monkeypatch: pytest.MonkeyPatch, given: str | None, kept: str
) -> None:
    if given is None:
        monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", given)
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == kept
