"""The shipped CI/CD pipelines: the GitHub workflows against the workflow schema that
check-jsonschema vendors, CodeBuild's buildspec against the structure CodeBuild documents
(check-jsonschema vendors no buildspec schema, and AWS publishes none), and every command they
run against what the repository has (Makefile targets, scripts and their options, driftloop's
commands and their options, pip extras)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import deploy
import pytest
import typer
import yaml

from driftloop.cli.main import app
from driftloop.config import load_settings

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = ROOT / ".github" / "workflows"
BUILDSPEC = ROOT / "buildspec.yml"
CHECK_JSONSCHEMA = str(Path(sys.executable).with_name("check-jsonschema"))
TOP_KEYS = {"version", "run-as", "env", "proxy", "batch", "phases", "reports", "artifacts", "cache"}
PHASES = ("install", "pre_build", "build", "post_build")
PHASE_KEYS = {"run-as", "on-failure", "runtime-versions", "commands", "finally"}
REPORT_FORMATS = {"JUNITXML", "CUCUMBERJSON", "TESTNGXML", "VISUALSTUDIOTRX", "NUNITXML"}
REPORT_FORMATS |= {"NUNIT3XML", "CLOVERXML", "COBERTURAXML", "JACOCOXML", "SIMPLECOV"}


def _load(path: Path) -> dict[Any, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), f"{path} is not a YAML mapping"
    return loaded


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    """A workflow's ``on``, which YAML 1.1 (PyYAML) reads as the key True."""
    found = workflow.get("on", workflow.get(True))
    return found if isinstance(found, dict) else {name: None for name in found}


def _check(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _workflow_commands() -> Iterator[tuple[str, str]]:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job in _load(path)["jobs"].values():
            for step in job.get("steps", []):
                if "run" in step:
                    yield path.name, step["run"]


def _buildspec_commands() -> list[str]:
    phases = _load(BUILDSPEC)["phases"]
    return [command for phase in PHASES for command in phases.get(phase, {}).get("commands", [])]


def _lines(script: str) -> Iterator[str]:
    """Each shell line of ``script``, with backslash continuations joined."""
    yield from (line.strip() for line in script.replace("\\\n", " ").splitlines() if line.strip())


def test_the_workflows_are_valid_github_workflows() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [f.name for f in files] == ["ci.yml", "deploy.yml"]
    checked = _check("vendor.github-workflows", *files)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    timed = _check("custom.github-workflows-require-timeout", *files)  # no job runs for 6 h
    assert timed.returncode == 0, timed.stdout + timed.stderr


@pytest.mark.parametrize(
    ("break_it", "said"),
    [
        (lambda w: w["jobs"]["test"].pop("runs-on"), "runs-on"),
        (lambda w: w["jobs"]["test"]["steps"][0].update(run="make test"), "steps"),
    ],
    ids=["no-runner", "uses-and-run"],
)
def test_a_broken_workflow_fails_the_check(tmp_path: Path, break_it: Any, said: str) -> None:
    workflow = _load(WORKFLOWS / "ci.yml")
    break_it(workflow)
    broken = tmp_path / "ci.yml"
    broken.write_text(yaml.safe_dump(workflow))
    checked = _check("vendor.github-workflows", broken)
    assert checked.returncode == 1
    assert "Schema validation errors were encountered" in checked.stdout + checked.stderr
    assert said in checked.stdout


def test_ci_runs_make_test_on_every_push_and_pull_request_and_keeps_the_report() -> None:
    workflow = _load(WORKFLOWS / "ci.yml")
    triggers = _triggers(workflow)
    assert "push" in triggers and "pull_request" in triggers
    assert not (triggers["push"] or {}).get("branches"), "tests run on every branch"
    [job] = workflow["jobs"].values()
    runs = [step for step in job["steps"] if "run" in step]
    [test] = [step for step in runs if step["run"].strip() == "make test"]
    report = re.fullmatch(r"--junitxml=(\S+)", test["env"]["PYTEST_ADDOPTS"])
    assert report is not None
    [upload] = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload["with"]["path"] == report.group(1)
    assert upload["if"] == "${{ !cancelled() }}"  # a failed run keeps its report too


def test_deploy_runs_after_the_tests_through_oidc_behind_a_manual_approval() -> None:
    text = (WORKFLOWS / "deploy.yml").read_text()
    workflow = _load(WORKFLOWS / "deploy.yml")
    run_after = _triggers(workflow)["workflow_run"]
    assert run_after["workflows"] == [_load(WORKFLOWS / "ci.yml")["name"]]
    assert run_after["branches"] == ["main"] and run_after["types"] == ["completed"]
    [job] = workflow["jobs"].values()
    assert "github.event.workflow_run.conclusion == 'success'" in job["if"]
    assert job["environment"] == "production"
    assert "Required reviewers" in text  # where the approvers are set, said in a comment
    assert job["permissions"]["id-token"] == "write"
    assert workflow["permissions"] == {"contents": "read"}
    [login] = [s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", "")]
    assert login["uses"].startswith("aws-actions/configure-aws-credentials@v")
    assert re.fullmatch(r"\$\{\{ (vars|secrets)\.\w+ \}\}", login["with"]["role-to-assume"])
    assert "aws-access-key-id" not in login["with"]  # no long-lived keys
    runs = [step["run"] for step in job["steps"] if "run" in step]
    order = ['pip install ".[aws]"', "driftloop train", "python deploy.py"]
    positions = [next(i for i, run in enumerate(runs) if command in run) for command in order]
    assert positions == sorted(positions)
    one_at_a_time = workflow["concurrency"]  # a release in flight is never cancelled
    assert one_at_a_time["group"] and one_at_a_time["cancel-in-progress"] is False


def test_the_buildspec_has_codebuilds_structure_and_runs_the_steps_in_order() -> None:
    spec = _load(BUILDSPEC)
    assert spec["version"] == 0.2
    assert set(spec) <= TOP_KEYS
    variables = spec["env"]["variables"]
    assert all(isinstance(v, str) for v in variables.values()), "CodeBuild takes strings"
    phases = spec["phases"]
    assert list(phases) == [p for p in PHASES if p in phases]
    for name, phase in phases.items():
        assert set(phase) <= PHASE_KEYS, name
        assert isinstance(phase["commands"], list), name
        assert all(isinstance(c, str) and c.strip() for c in phase["commands"]), name
    commands = _buildspec_commands()
    order = ['pip install ".[aws]"', "make test", "driftloop train", "python deploy.py"]
    positions = [next(i for i, c in enumerate(commands) if step in c) for step in order]
    assert positions == sorted(positions)
    assert "make test" in " ".join(phases["pre_build"]["commands"])
    assert "python deploy.py" in " ".join(phases["build"]["commands"])

    [(group, report)] = spec["reports"].items()
    assert report["file-format"] in REPORT_FORMATS
    junit = re.search(r"--junitxml=(\S+?)\"", " ".join(commands))
    assert junit is not None
    assert f"{report['base-directory']}/{report['files'][0]}" == junit.group(1), group
    files = spec["artifacts"]["files"]
    assert isinstance(files, list) and files
    release = re.search(r"python deploy\.py .*--report (\S+)", " ".join(commands))
    assert release is not None
    assert any(Path(release.group(1)).is_relative_to(f.removesuffix("/**/*")) for f in files)


def test_the_buildspec_settings_load_as_the_aws_backend(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _load(BUILDSPEC)["env"]["variables"].items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.backend.kind == "aws"
    assert settings.serving.endpoint and settings.deploy.alarms
    assert settings.deploy.strategy != "shadow"  # a release moves traffic


def _options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


def _check_driftloop(args: list[str], where: str) -> None:
    """``driftloop ARGS`` names a command, and each of its options is one that command has."""
    command: Any = typer.main.get_command(app)
    words = list(args)
    while hasattr(command, "commands") and words and not words[0].startswith("-"):
        command = command.commands.get(words.pop(0))
        assert command is not None, f"{where}: `driftloop {' '.join(args)}` is no command"
    unknown = {w.split("=")[0] for w in words if w.startswith("-")} - _options(command)
    assert not unknown, f"{where}: `driftloop {' '.join(args)}` has unknown options {unknown}"


@pytest.mark.parametrize(
    "where", ["buildspec.yml", "ci.yml", "deploy.yml"], ids=["codebuild", "ci", "deploy"]
)
def test_the_commands_the_pipelines_run_exist(where: str) -> None:
    scripts = (
        _buildspec_commands()
        if where == "buildspec.yml"
        else [run for name, run in _workflow_commands() if name == where]
    )
    makefile = (ROOT / "Makefile").read_text()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    checked = 0
    for line in (line for script in scripts for line in _lines(script)):
        for target in re.findall(r"\bmake ([\w-]+)", line):
            assert re.search(rf"^{target}:", makefile, re.M), f"{where}: no make target {target}"
            checked += 1
        for extra in re.findall(r'pip install "\.\[(\w+)\]"', line):
            assert extra in extras["optional-dependencies"], f"{where}: no extra {extra}"
            checked += 1
        found = re.search(r"\bpython (\S+\.py)\b(.*)", line)
        if found is not None:
            script, args = found.group(1), shlex.split(found.group(2))
            assert (ROOT / script).is_file(), f"{where}: {script} is not in the repository"
            if script == "deploy.py":
                deploy.arguments(args)  # exits 2 on an unknown option
            elif script == "preprocess_telco.py":
                _check_driftloop(["preprocess", *args], where)
            checked += 1
        found = re.search(r"^driftloop (.*)", line)
        if found is not None:
            _check_driftloop(shlex.split(found.group(1)), where)
            checked += 1
    assert checked == {"buildspec.yml": 5, "ci.yml": 1, "deploy.yml": 4}[where]


def test_the_command_check_fails_on_what_does_not_exist() -> None:
    with pytest.raises(AssertionError, match="`driftloop trian` is no command"):
        _check_driftloop(["trian"], "here")
    with pytest.raises(AssertionError, match=r"unknown options \{'--vall'\}"):
        _check_driftloop(["train", "--vall", "v.csv"], "here")
    with pytest.raises(SystemExit):
        deploy.arguments(["--nope"])
