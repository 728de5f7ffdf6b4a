"""Nothing in the console changes state without a POST from the console itself: only approving
or rejecting a version (and signing in) takes a POST, and a change posted from another site is
refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from driftloop.config import load_settings
from driftloop.console.app import create_app
from driftloop.console.view import LoopView


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    view = LoopView(load_settings(home=tmp_path / ".driftloop"))
    with TestClient(create_app(view, warm=False), raise_server_exceptions=False) as found:
        yield found
    view.close()


def test_only_the_approval_and_sign_in_take_a_post(client: TestClient) -> None:
    methods = {r.path: r.methods or set() for r in client.app.routes if isinstance(r, Route)}  # type: ignore[attr-defined]
    posting = {path for path, allowed in methods.items() if "POST" in allowed}
    assert posting == {"/models/{version}/{action}", "/login"}
    assert "GET" not in methods["/models/{version}/{action}"]
    assert client.get("/models/1/approve").status_code == 405


def test_a_change_posted_from_another_site_is_refused(client: TestClient) -> None:
    for headers in ({"origin": "http://elsewhere.example"}, {"sec-fetch-site": "cross-site"}):
        answer = client.post("/models/1/approve", data={"confirm": "yes"}, headers=headers)
        assert answer.status_code == 401, headers
        assert "refused" in answer.text
