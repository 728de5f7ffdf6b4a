"""The soak script: its checks fail on what they must catch, and a short run against a real
`driftloop serve` measures, swaps and reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks._soak_check import Minute, flat, verdicts
from benchmarks._soak_probe import capture_files, usage

REPO = Path(__file__).resolve().parents[3]


def _minute(index: int, *, rss: int = 500 << 20, fds: int = 80, failures: int = 0) -> Minute:
    return Minute(
        index=index,
        requests=1000,
        failures=failures,
        requests_per_s=16.7,
        p50_ms=2.0,
        p99_ms=9.0,
        rss_bytes=rss,
        fds=fds,
        processes=4,
        capture_files=4,
        config="A=v1",
        swap_live_s=0.4,
    )


def test_flat_fails_on_a_series_that_keeps_growing() -> None:
    growing = [500.0 + 2.0 * minute for minute in range(30)]  # +2 MiB a minute
    verdict = flat("RSS (MiB)", growing)
    assert not verdict.passed
    assert "+11.2%" in verdict.detail


def test_flat_passes_noise_and_a_single_late_spike() -> None:
    noisy = [500.0, 503.0, 498.0, 501.0, 502.0, 499.0, 560.0]  # the last minute alone spikes
    assert flat("RSS (MiB)", noisy).passed


def test_flat_compares_with_minute_one_not_with_the_start_of_the_run() -> None:
    assert not flat("open descriptors", [100, 105, 106, 105]).passed  # exactly +5 % fails
    assert flat("open descriptors", [100, 104, 104, 104]).passed
    assert flat("open descriptors", [100]).passed  # one minute: nothing to compare


def test_verdicts_fail_on_one_failed_request_and_on_a_swap_not_seen_live() -> None:
    minutes = [_minute(1), _minute(2, failures=1), _minute(3)]
    missed = Minute(**{**_minute(4).to_dict(), "swap_live_s": None})
    by_check = {v.check: v for v in verdicts([*minutes, missed])}
    assert not by_check["no failed request"].passed
    assert by_check["no failed request"].detail == "1 of 4,000 failed"
    assert not by_check["every config swap live"].passed
    assert "minute(s) [4]" in by_check["every config swap live"].detail
    assert by_check["RSS (MiB) flat"].passed and by_check["open descriptors flat"].passed


def test_usage_reads_this_process_group_from_proc(tmp_path: Path) -> None:
    seen = usage(os.getpgrp())
    assert seen.processes >= 1 and seen.rss_bytes > 10 << 20 and seen.fds >= 3
    hour = tmp_path / "soak" / "A" / "2026" / "01" / "01" / "00"
    hour.mkdir(parents=True)
    (hour / "00-00-000-x.jsonl").write_text("{}\n")
    (hour / "notes.txt").write_text("")
    assert capture_files(tmp_path / "soak") == 1
    assert capture_files(tmp_path / "missing") == 0


@pytest.mark.slow
def test_a_short_soak_against_a_real_server(tmp_path: Path, telco_csv: Path) -> None:
    report = tmp_path / "soak.json"
    argv = [sys.executable, str(REPO / "benchmarks" / "soak.py"), "--minutes", "0.6"]
    argv += ["--period", "12", "--capacity-seconds", "2", "--input-csv", str(telco_csv)]
    argv += ["--workspace", str(tmp_path / "ws"), "--json", str(report)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=540, cwd=tmp_path)
    server_log = tmp_path / "ws" / "logs" / "soak-server.log"
    log_tail = server_log.read_text(errors="replace")[-3000:] if server_log.exists() else ""
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:] + log_tail

    result = json.loads(report.read_text())
    assert 0 < result["rate_per_s"] < result["capacity_per_s"]
    minutes = result["minutes"]
    assert [m["index"] for m in minutes] == [1, 2, 3]
    assert [m["config"].count("B=") for m in minutes] == [1, 0, 1]  # the swaps alternate
    for m in minutes:
        assert m["requests"] > 0 and m["failures"] == 0
        assert m["processes"] >= 3  # the master and two workers
        assert m["rss_bytes"] > 100 << 20 and m["fds"] > 10 and m["capture_files"] >= 2
        assert m["p50_ms"] <= m["p99_ms"]
    by_check = {v["check"]: v for v in result["verdicts"]}
    assert by_check["no failed request"]["passed"]
    assert by_check["every config swap live"]["passed"]
    assert set(by_check) == {
        "RSS (MiB) flat",
        "open descriptors flat",
        "no failed request",
        "every config swap live",
    }
    assert "PASS  no failed request" in done.stdout
    assert (tmp_path / "ws" / "capture" / "soak").is_dir()
