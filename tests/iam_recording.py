"""A pytest plugin that records every AWS operation the aws backend issues in a test session,
and checks them against docs/iam/sagemaker_role_policy.json when the session ends.

Every botocore client driftloop's code asks boto3 for (``_clients.client``, ``invoke``'s
client) gets a ``before-parameter-build`` handler; it records the operation when driftloop
code is on the stack of the call too, so the tests' own calls (setting up or reading moto, even
through a driftloop-made client) are left out. Each call is recorded with the settings of the
client (its bucket, prefix, queue, ...), found on the stack where the client was made, and
turned into IAM requests by tests/iam_policy.py. Clients a library makes for itself are not
recorded: MLflow's S3 artifact store (``training.artifact_root``) is allowed only under
``s3://${Bucket}/${Prefix}/``, which tests/unit/tooling/test_iam_policy.py checks with the
calls that store makes.

At the end of the session (``pytest_sessionfinish``) the session fails, with a section in the
summary naming each one, when:

- a recorded operation is missing from ``tests/iam_policy.OPERATIONS``;
- the policy does not allow a recorded request (any session that made AWS calls);
- a (statement, action, resource) of the policy allowed no recorded request: checked only when
  the session ran the whole suite (see :func:`whole_suite`) and every test passed.

``--iam-calls FILE`` writes the recorded calls as JSON lines. The fixture ``iam_calls`` gives
a test the calls recorded so far.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import botocore.session
import pytest

from tests import iam_policy
from tests.iam_policy import Call, Scope, UnknownOperation

_DRIFTLOOP = "driftloop"


def _from_driftloop(frame: FrameType | None) -> bool:
    """Whether a driftloop module's code is on the stack from ``frame`` outwards."""
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module == _DRIFTLOOP or module.startswith(f"{_DRIFTLOOP}."):
            return True
        frame = frame.f_back
    return False


def _made_by_driftloop(frame: FrameType | None) -> bool:
    """Whether the code that asked boto3 or botocore for a client, from ``frame`` outwards, is
    driftloop's (not a library's it calls, such as MLflow's S3 artifact store)."""
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.partition(".")[0] not in ("boto3", "botocore"):
            return module == _DRIFTLOOP or module.startswith(f"{_DRIFTLOOP}.")
        frame = frame.f_back
    return False


def _settings_on_stack(frame: FrameType | None) -> Any:
    """The innermost driftloop ``Settings`` a frame holds, from ``frame`` outwards."""
    from driftloop.config import Settings

    while frame is not None:
        for value in frame.f_locals.values():
            if isinstance(value, Settings):
                return value
        frame = frame.f_back
    return None


def _scope(settings: Any, region: str) -> Scope:
    if settings is None:
        return Scope(region=region)
    aws = settings.aws
    return Scope(
        region=region,
        bucket=aws.bucket or "",
        prefix=aws.prefix,
        queue=aws.queue,
        event_bus=aws.event_bus,
        model_name=settings.registry.model_name,
        role_arn=aws.role_arn or "",
    )


@dataclass
class Recorder:
    """The calls of one session, and what decides whether it ran the whole suite."""

    calls: list[Call] = field(default_factory=list)
    unknown: dict[str, str] = field(default_factory=dict)
    """Operation -> a test that made it, for operations iam_policy does not map."""
    test: str = ""
    deselected: int = 0
    skipped: list[str] = field(default_factory=list)
    report: list[str] = field(default_factory=list)
    failed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self, service: str, scope: Scope) -> Callable[..., None]:
        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            if not _from_driftloop(sys._getframe(1)):
                return
            try:
                made = iam_policy.call(service, model.name, params, scope, self.test)
            except UnknownOperation:
                with self.lock:
                    self.unknown.setdefault(f"{service}.{model.name}", self.test)
                return
            with self.lock:
                self.calls.append(made)

        return record


RECORDER = pytest.StashKey[Recorder]()
_ACTIVE: list[Recorder] = []
"""The recorder of the running session (hooks without the config reach it here)."""
_original = botocore.session.Session.create_client


def _install(recorder: Recorder) -> None:
    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = _original(self, *args, **kwargs)
        caller = sys._getframe(1)
        if _made_by_driftloop(caller):
            service = str(client.meta.service_model.service_name)
            scope = _scope(_settings_on_stack(caller), str(client.meta.region_name))
            client.meta.events.register(
                "before-parameter-build", recorder.handler(service, scope), unique_id="iam-rec"
            )
        return client

    botocore.session.Session.create_client = create_client


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--iam-calls",
        metavar="FILE",
        help="write the AWS calls driftloop made in the session as JSON lines to FILE",
    )


def pytest_configure(config: pytest.Config) -> None:
    recorder = Recorder()
    config.stash[RECORDER] = recorder
    _ACTIVE.append(recorder)
    _install(recorder)


def pytest_unconfigure(config: pytest.Config) -> None:
    botocore.session.Session.create_client = _original
    _ACTIVE.remove(config.stash[RECORDER])


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _recorder().test = nodeid


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _recorder().skipped.append(report.nodeid)


def pytest_deselected(items: list[pytest.Item]) -> None:
    _recorder().deselected += len(items)


def _recorder() -> Recorder:
    return _ACTIVE[-1]


@pytest.fixture
def iam_calls(pytestconfig: pytest.Config) -> list[Call]:
    """The AWS calls driftloop made in this session so far (the live list)."""
    return pytestconfig.stash[RECORDER].calls


def whole_suite(session: pytest.Session, recorder: Recorder) -> str | None:
    """Why the session is not a run of the whole suite with every test passed (None: it is).

    The whole suite: no paths or node ids given (or only the ``tests`` folder, or the root),
    no ``-k``, ``-m``, ``--deselect``, ``--ignore``, ``--lf`` or ``--sw`` narrowing (whatever
    deselects is counted), nothing skipped, and every test collected ran and passed."""
    config = session.config
    root = config.rootpath
    given = [Path(arg.split("::")[0]) for arg in config.args]
    full = {root, root / "tests"}
    if any("::" in arg for arg in config.args) or any(
        (path if path.is_absolute() else config.invocation_params.dir / path).resolve() not in full
        for path in given
    ):
        return f"a selection of the suite ({' '.join(config.args)})"
    option = config.option
    for flag in ("keyword", "markexpr", "deselect", "ignore", "ignore_glob"):
        if getattr(option, flag, None):
            return f"--{flag.replace('_', '-')} narrowed the suite"
    if getattr(option, "collectonly", False):
        return "nothing ran (--collect-only)"
    if recorder.deselected:
        return f"{recorder.deselected} test(s) deselected"
    if session.testsfailed or session.shouldfail or session.shouldstop:
        return "not every test passed"
    if recorder.skipped:
        return f"{len(recorder.skipped)} test(s) skipped, e.g. {recorder.skipped[0]}"
    return None


def _check(session: pytest.Session, recorder: Recorder, exitstatus: int) -> list[str]:
    """The problems of the session's calls, one line each; notes go to the report."""
    problems = [
        f"{operation} (in {test}) is not in tests/iam_policy.py OPERATIONS: map it to its IAM "
        "action and allow it in the policy"
        for operation, test in sorted(recorder.unknown.items())
    ]
    problems += [f"not allowed: {line}" for line in iam_policy.unallowed(recorder.calls)]
    why = "not every test passed" if exitstatus != pytest.ExitCode.OK else None
    why = why or whole_suite(session, recorder)
    if why is not None:
        recorder.report.append(f"every statement used: not checked, {why}")
        return problems
    extra = iam_policy.unused(recorder.calls)
    problems += [f"never needed by the whole suite: {line}" for line in extra]
    if not extra:
        recorder.report.append("every statement used: yes (the whole suite ran)")
    return problems


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    recorder = session.config.stash[RECORDER]
    target = session.config.getoption("--iam-calls")
    if target:
        with open(target, "w") as out:
            for made in recorder.calls:
                out.write(json.dumps(made.as_json()) + "\n")
    if not recorder.calls and not recorder.unknown:
        return
    distinct = len({made.name for made in recorder.calls})
    recorder.report.append(f"{len(recorder.calls)} AWS calls ({distinct} operations)")
    refused_by_aws = {made.refused_by_aws: made.test for made in recorder.calls}
    for why, test in sorted(refused_by_aws.items()):
        if why:
            recorder.report.append(f"not checked: {why}; moto took it (in {test})")
    problems = _check(session, recorder, exitstatus)
    if problems:
        recorder.report += problems
        recorder.report.append(f"policy: {iam_policy.POLICY.relative_to(session.config.rootpath)}")
        recorder.failed = True
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    recorder = config.stash[RECORDER]
    if not recorder.report:
        return
    title = "IAM policy vs the AWS calls driftloop made"
    terminalreporter.section(title, red=recorder.failed, green=not recorder.failed)
    for line in recorder.report:
        terminalreporter.line(line)
