from pathlib import Path

import pytest

from driftloop import config_file
from driftloop.config import Settings, load_settings
from driftloop.errors import ConfigError


def test_defaults_are_the_telco_demo(home: Path) -> None:
    settings = load_settings()
    assert settings.data.target == "Churn"
    assert settings.data.id_columns == ["customerID"]
    assert settings.home == home
    assert settings.training.candidates == ["logistic_regression", "hist_gradient_boosting"]


def test_toml_then_env_override(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Path("driftloop.toml").write_text(
        '[gate]\nmin_improvement = 0.02\n[registry]\nmodel_name = "m"\n'
    )
    assert load_settings().gate.min_improvement == 0.02
    monkeypatch.setenv("DRIFTLOOP_GATE__MIN_IMPROVEMENT", "0.05")
    settings = load_settings()
    assert settings.gate.min_improvement == 0.05
    assert settings.registry.model_name == "m"


def test_unknown_key_in_file_is_named(home: Path) -> None:
    Path("driftloop.toml").write_text("[gate]\nmin_improvment = 0.02\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'gate.min_improvment'"):
        load_settings()


def test_wrong_type_names_key_and_value(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLOOP_DATA__VALIDATION_FRACTION", "1.5")
    with pytest.raises(ConfigError, match=r"data.validation_fraction.*less than 1.*1.5"):
        load_settings()


def test_unknown_env_key_is_named(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLOOP_TRAINNG__SEED", "3")
    with pytest.raises(ConfigError, match="DRIFTLOOP_TRAINNG__SEED"):
        load_settings()


def test_unknown_candidate_is_refused(home: Path) -> None:
    Path("driftloop.toml").write_text('[training]\ncandidates = ["xgboost"]\n')
    with pytest.raises(ConfigError, match=r"training.candidates.0"):
        load_settings()


def test_invalid_toml_is_one_sentence(home: Path) -> None:
    Path("driftloop.toml").write_text("[gate\n")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings()


def test_rendered_config_loads_back_to_defaults(home: Path) -> None:
    path = config_file.write(Path("driftloop.toml"))
    text = path.read_text()
    assert "# Target column of the training data." in text
    assert load_settings(path) == Settings()
    with pytest.raises(ConfigError, match="already exists"):
        config_file.write(path)


def test_the_aws_backend_is_checked_when_settings_load(home: Path) -> None:
    Path("driftloop.toml").write_text('[backend]\nkind = "aws"\n')
    with pytest.raises(ConfigError, match=r'backend\.kind "aws" needs aws\.bucket'):
        load_settings()
    Path("driftloop.toml").write_text(
        '[backend]\nkind = "aws"\n[aws]\nbucket = "team-ml"\nregion = "eu-west-1"\n'
        'endpoint_urls = {s3 = "http://127.0.0.1:5000"}\n'
    )
    settings = load_settings()
    assert (settings.aws.bucket, settings.aws.prefix) == ("team-ml", "driftloop")
    for bad, key in [
        ('bucket = "Not_A_Bucket"', "aws.bucket"),
        ('role_arn = "my-role"', "aws.role_arn"),
        ('endpoint_urls = {dynamodb = "http://x"}', "unknown service.*dynamodb"),
        ('aws_secret_access_key = "never here"', "unknown config key 'aws.aws_secret_access_key'"),
    ]:
        Path("driftloop.toml").write_text(f'[backend]\nkind = "aws"\n[aws]\n{bad}\n')
        with pytest.raises(ConfigError, match=key):
            load_settings()


def test_an_sqs_subscription_needs_the_aws_backend(home: Path) -> None:
    topic = (
        '[[notifications.topics]]\nname = "ops"\n[[notifications.topics.subscriptions]]\n'
        'protocol = "sqs"\nendpoint = "{endpoint}"\n'
    )
    Path("driftloop.toml").write_text(topic.format(endpoint="arn:aws:sqs:eu-west-1:1:q"))
    with pytest.raises(ConfigError, match=r'topic ops: sqs subscriptions need backend\.kind "aws"'):
        load_settings()
    aws = '[backend]\nkind = "aws"\n[aws]\nbucket = "team-ml"\n'
    Path("driftloop.toml").write_text(aws + topic.format(endpoint="my-queue"))
    with pytest.raises(ConfigError, match="queue ARN"):
        load_settings()
