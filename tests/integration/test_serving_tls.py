"""HTTPS from ``serving.tls_*``: a real server on loopback with a certificate made here, reached
by urllib, http.client's 413 path, boto3's sagemaker-runtime and ``driftloop invoke``; refused
without trust, and ``driftloop serve`` refuses a bad pair before it starts."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from botocore.config import Config

from tests.integration.test_serving_limits import runtime_client, train_tiny_model
from tests.servers import DRIFTLOOP, SERVE, Server, start_server
from tests.unit.serving.test_limits_tls import Pki, make_pki

pytestmark = pytest.mark.slow
CSV = {"content-type": "text/csv"}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    return train_tiny_model(tmp_path_factory.mktemp("ml"))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _serve(model: Path, pki: Pki, root: Path, *, mutual: bool = False) -> Server:
    env = {
        "SM_MODEL_DIR": str(model),
        "DRIFTLOOP_HOME": str(root / "home"),
        "DRIFTLOOP_SERVING__TLS_CERTFILE": str(pki.cert),
        "DRIFTLOOP_SERVING__TLS_KEYFILE": str(pki.key),
    }
    if mutual:
        env["DRIFTLOOP_SERVING__TLS_CA_CERTS"] = str(pki.ca)
    running = start_server(["--host", "127.0.0.1", "--workers", "1"], env, root / "log", [SERVE])
    client = pki.client_cert if mutual else None
    context = _trusting(pki, client)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert running.process.poll() is None, running.log.read_text()
        try:
            with urllib.request.urlopen(_url(running, "/ping"), timeout=2, context=context):
                return running
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    running.stop()
    raise AssertionError(f"no https /ping: {running.log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def server(
    model: tuple[Path, bytes], pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    running = _serve(model[0], pki, tmp_path_factory.mktemp("tls"))
    try:
        yield running
    finally:
        assert running.stop() in (0, -signal.SIGTERM)


def _url(server: Server, path: str) -> str:
    return f"https://127.0.0.1:{server.port}{path}"


def _trusting(pki: Pki, client_cert: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if client_cert is not None:
        context.load_cert_chain(client_cert, pki.client_key)
    return context


def _post(
    server: Server, body: bytes, context: ssl.SSLContext
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        _url(server, "/invocations"), data=body, headers=CSV, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def test_https_answers_a_client_that_trusts_the_ca(
    server: Server, pki: Pki, model: tuple[Path, bytes]
) -> None:
    status, _, body = _post(server, model[1], _trusting(pki))
    assert status == 200, body
    assert len(orjson.loads(body)["predictions"]) == 3


def test_a_client_without_the_ca_refuses_the_certificate(
    server: Server, model: tuple[Path, bytes]
) -> None:
    with pytest.raises(urllib.error.URLError) as raised:
        _post(server, model[1], ssl.create_default_context())
    assert isinstance(raised.value.reason, ssl.SSLCertVerificationError)
    with pytest.raises(ConnectionError):  # plain HTTP on the HTTPS port: no answer
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/ping", timeout=5)


def test_an_oversized_body_gets_its_413_over_tls(
    server: Server, pki: Pki, model: tuple[Path, bytes]
) -> None:
    status, _, body = _post(server, b"1" * (20 * 1024 * 1024), _trusting(pki))
    assert status == 413
    assert orjson.loads(body)["error"]["code"] == "payload_too_large"
    assert _post(server, model[1], _trusting(pki))[0] == 200


def test_boto3_sagemaker_runtime_over_https(
    server: Server, pki: Pki, model: tuple[Path, bytes]
) -> None:
    url = f"https://127.0.0.1:{server.port}"
    retries = Config(retries={"total_max_attempts": 1})
    client = runtime_client(url, verify=str(pki.ca), config=retries)
    answer = client.invoke_endpoint(EndpointName="default", Body=model[1], ContentType="text/csv")
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert len(orjson.loads(answer["Body"].read())["predictions"]) == 3


def test_driftloop_invoke_trusts_the_ca_from_aws_ca_bundle(
    server: Server, pki: Pki, model: tuple[Path, bytes], tmp_path: Path
) -> None:
    (tmp_path / "rows.csv").write_bytes(model[1])
    command = [DRIFTLOOP, "invoke", "default", "--url", f"https://127.0.0.1:{server.port}"]
    command += ["--body", f"@{tmp_path / 'rows.csv'}", "--content-type", "text/csv"]
    env = {**os.environ, "DRIFTLOOP_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        command, env={**env, "AWS_CA_BUNDLE": str(pki.ca)}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert len(orjson.loads(done.stdout)["predictions"]) == 3
    untrusted = subprocess.run(command, env=env, capture_output=True, text=True)
    assert untrusted.returncode != 0 and "certificate verify failed" in untrusted.stderr


def test_mutual_tls_wants_a_client_certificate(
    model: tuple[Path, bytes], pki: Pki, tmp_path: Path
) -> None:
    running = _serve(model[0], pki, tmp_path, mutual=True)
    try:
        status, _, _ = _post(running, model[1], _trusting(pki, pki.client_cert))
        assert status == 200
        with pytest.raises((urllib.error.URLError, ConnectionError, ssl.SSLError)):
            _post(running, model[1], _trusting(pki))
    finally:
        assert running.stop() in (0, -signal.SIGTERM)


def test_serve_refuses_a_bad_pair_in_one_sentence(pki: Pki, tmp_path: Path) -> None:
    # The pair is checked before any model is looked at: an empty model folder will do.
    base = {**os.environ, "SM_MODEL_DIR": str(tmp_path), "DRIFTLOOP_HOME": str(tmp_path)}
    cases = {  # the other refusals are unit-tested (tests/unit/serving/test_limits_tls.py)
        "error: serving.tls_keyfile is unset": {"DRIFTLOOP_SERVING__TLS_CERTFILE": str(pki.cert)},
        f"error: serving.tls_keyfile {pki.client_key} is not the private key of": {
            "DRIFTLOOP_SERVING__TLS_CERTFILE": str(pki.cert),
            "DRIFTLOOP_SERVING__TLS_KEYFILE": str(pki.client_key),
        },
    }
    for expected, env in cases.items():
        done = subprocess.run(
            [DRIFTLOOP, "serve", "--host", "127.0.0.1", "--port", "1"],
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(expected) and done.stderr.count("\n") == 1
