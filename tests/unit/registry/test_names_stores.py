"""Model, topic, rule and pipeline-run names pass the one name pattern before they reach a file,
a folder or a URI: a name that could leave its folder is one sentence, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from driftloop.backends.catalog import Backends
from driftloop.backends.local.notifications import TopicNotifier
from driftloop.backends.local.registry import MlflowRegistry
from driftloop.backends.local.rules import FileRuleStore
from driftloop.config import NotificationSettings, load_settings
from driftloop.errors import ConfigError
from driftloop.events.rules import parse_rule
from driftloop.pipelines.steps import Context
from driftloop.pipelines.store import PipelineStore
from driftloop.workspace import Workspace
from tests.workspaces import BASE_TOML

BAD = ["../x", "..", "/abs", "/etc/passwd", "a/b", "a\\b", "a\x00b", "", "-a", "a" * 129]
SENTENCE = r"cannot name a file: use 1 to 128 letters, digits, '\.', '_' or '-', starting with"


def one_sentence(error: ConfigError, what: str, name: str) -> None:
    assert error.message.startswith(f"{what} {name!r} cannot name a file")
    assert error.details == {"name": name}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> MlflowRegistry:
    return MlflowRegistry(Workspace(tmp_path_factory.mktemp("ws")))


@pytest.mark.parametrize("name", BAD)
def test_model_names_are_refused_before_mlflow_sees_them(
    registry: MlflowRegistry, name: str
) -> None:
    with pytest.raises(ConfigError, match=SENTENCE) as found:
        registry.create_version(name, "runs:/0123/model", "0123", {})
    one_sentence(found.value, "model", name)
    with pytest.raises(ConfigError, match=SENTENCE):
        registry.load_model(name, 1)
    assert registry._client.search_registered_models() == []


@pytest.mark.parametrize("name", BAD)
def test_rule_names_and_notify_topics_are_refused(tmp_path: Path, name: str) -> None:
    store = FileRuleStore(tmp_path / "rules.json")
    with pytest.raises(ConfigError, match=SENTENCE) as found:
        store.put({"name": name, "targets": []})
    one_sentence(found.value, "rule", name)
    with pytest.raises(ConfigError, match=SENTENCE) as found:
        parse_rule({"name": "ok", "targets": [{"type": "notify", "topic": name}]})
    one_sentence(found.value, "topic", name)
    assert not store.path.exists()


@pytest.mark.parametrize("name", BAD)
def test_topics_are_refused_before_any_subscription_is_tried(tmp_path: Path, name: str) -> None:
    subscription = {"protocol": "file", "endpoint": "notes.jsonl"}
    with pytest.raises(ValidationError, match="cannot name a file"):  # refused in the settings
        NotificationSettings.model_validate(
            {"topics": [{"name": name, "subscriptions": [subscription]}]}
        )
    settings = NotificationSettings.model_validate(
        {"topics": [{"name": "x", "subscriptions": [subscription]}]}
    )
    notifier = TopicNotifier(settings, Workspace(tmp_path))  # and by name when published
    with pytest.raises(ConfigError, match=SENTENCE) as found:
        notifier.publish(name, "subject", "message")
    one_sentence(found.value, "topic", name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", BAD)
def test_pipeline_run_ids_are_refused_before_a_folder_is_made(tmp_path: Path, name: str) -> None:
    (tmp_path / "driftloop.toml").write_text(BASE_TOML)
    settings = load_settings(tmp_path / "driftloop.toml", home=tmp_path / "ws")
    with pytest.raises(ConfigError, match=SENTENCE) as found:
        PipelineStore(settings.workspace).get_run(name)
    one_sentence(found.value, "pipeline run", name)
    context = Context(settings, Backends.from_settings(settings), name, "train", {}, {})
    with pytest.raises(ConfigError, match=SENTENCE):
        context.folder  # noqa: B018
    assert not settings.workspace.pipeline_runs.exists()


@pytest.mark.parametrize("name", ["churn-model", "Churn_v2", "a.b", "a" * 128])
def test_names_of_the_pattern_pass(tmp_path: Path, name: str) -> None:
    assert parse_rule({"name": name, "targets": [{"type": "notify", "topic": name}]}).name == name
