"""One duration type: seconds, short forms and ISO 8601, checked when settings load."""

from __future__ import annotations

from datetime import timedelta

import pytest

from driftloop.config import Settings, load_settings
from driftloop.durations import format_duration, parse_at_least, parse_duration
from driftloop.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (30, 30),
        (0.5, 0.5),
        ("2.5", 2.5),
        ("90s", 90),
        ("15m", 900),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("2d", 172_800),
        ("250ms", 0.25),
        ("-1d", -86_400),
        ("PT5M", 300),
        ("P1DT12H", 129_600),
        ("-P8D", -691_200),
        (timedelta(minutes=3), 180),
    ],
)
def test_every_way_of_writing_a_duration(text: object, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["soon", "15x", "m15", "", "1h30", True, None, "P"])
def test_what_is_not_a_duration(text: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [0, 0.25, 59, 90, 3600, 5400, 90061.5, -691_200])
def test_the_short_form_reads_back(seconds: float) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


def test_settings_check_durations_when_they_load() -> None:
    settings = Settings(
        agent={"tick": "2s"},
        serving={"request_timeout": "PT30S"},
        monitoring={"schedules": [{"endpoint": "e", "every": "1h"}], "label_end_offset": "-P1D"},
    )
    assert settings.agent.tick == timedelta(seconds=2)
    assert settings.serving.request_timeout == timedelta(seconds=30)
    assert settings.monitoring.schedules[0].every == timedelta(hours=1)
    assert settings.monitoring.label_end_offset == timedelta(days=-1)
    for bad, key in [
        ({"agent": {"tick": "soon"}}, "agent.tick"),
        ({"deploy": {"poll": "0s"}}, "deploy.poll"),
        ({"monitoring": {"schedules": [{"endpoint": "e", "every": "30s"}]}}, "every"),
    ]:
        with pytest.raises(ConfigError, match=key):
            load_settings(None, **bad)


def test_old_seconds_keys_still_read() -> None:
    settings = Settings(agent={"tick_s": 0.5}, serving={"metrics_flush_s": 3})
    assert settings.agent.tick == timedelta(seconds=0.5)
    assert settings.serving.metrics_flush == timedelta(seconds=3)


def test_command_line_durations_name_the_option() -> None:
    assert parse_at_least("5m", timedelta(minutes=1), what="--every") == timedelta(minutes=5)
    with pytest.raises(ConfigError, match="--every '30s' is shorter than 1m"):
        parse_at_least("30s", timedelta(minutes=1), what="--every")
    with pytest.raises(ConfigError, match="--bake: 'later' is not a duration"):
        parse_at_least("later", timedelta(seconds=1), what="--bake")
