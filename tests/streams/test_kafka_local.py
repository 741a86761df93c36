from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest

from processors.errors import MissingToolError
from streams import kafka_local
from streams.settings import load_settings


def _fake_java(folder: Path, version_line: str) -> None:
    java = folder / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)


def test_missing_java_names_java_and_the_docker_alternative(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError) as caught:
        kafka_local.find_java()
    message = str(caught.value)
    assert "Java 17+" in message and "docker compose" in message


@pytest.mark.parametrize(
    ("line", "ok"),
    [
        ('openjdk version "17.0.15" 2025-04-15', True),
        ('openjdk version "21" 2023-09-19', True),
        ('openjdk version "11.0.2" 2019-01-15', False),
        ('java version "1.8.0_392"', False),
    ],
)
def test_java_version_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, line: str, ok: bool
) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    _fake_java(tmp_path, line)
    monkeypatch.setenv("PATH", str(tmp_path))
    if ok:
        assert kafka_local.find_java() == str(tmp_path / "java")
    else:
        with pytest.raises(MissingToolError, match="needs 17 or newer"):
            kafka_local.find_java()


def test_missing_maven_is_reported_when_jars_are_not_cached(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    config = kafka_local.LocalKafkaConfig.from_settings(
        load_settings(kafka_cache_dir=tmp_path / "cache")
    )
    with pytest.raises(MissingToolError, match="Maven"):
        kafka_local.provision(config)


def test_cached_jars_need_no_maven(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = kafka_local.LocalKafkaConfig.from_settings(
        load_settings(kafka_cache_dir=tmp_path / "cache")
    )
    libs = kafka_local.libs_dir(config)
    libs.mkdir(parents=True)
    (libs / ".complete").write_text("1 jars\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert kafka_local.provision(config) == libs


def test_config_defaults_follow_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = kafka_local.LocalKafkaConfig.from_settings(load_settings(kafka_port=29092))
    assert config.bootstrap == "127.0.0.1:29092"
    assert config.controller_port == 29093
    assert config.data_dir == tmp_path / "state" / "opsrules" / "kafka-29092"


def test_pinned_version_is_kafka_4() -> None:
    assert kafka_local.kafka_version().startswith("4.")


# 0xF8 in the first byte: base64 starts with "-" (62), as 1 id in 64 does.
DASH_FIRST = b"\xf8" + bytes(15)


def test_a_cluster_id_never_starts_with_a_dash() -> None:
    draws = iter([DASH_FIRST, DASH_FIRST, bytes(range(16))])
    cluster_id = kafka_local.new_cluster_id(lambda: next(draws))
    assert cluster_id == "AAECAwQFBgcICQoLDA0ODw"
    assert kafka_local.new_cluster_id().isascii()  # uuid4's own draw


@pytest.mark.integration
def test_storage_formats_where_a_dash_first_id_failed(tmp_path: Path) -> None:
    """The real kafka-storage tool (the jars the session's broker uses): the id drawn
    first would have been read as an option; the id we give it formats."""
    config = kafka_local.LocalKafkaConfig.from_settings(load_settings())
    config = replace(config, data_dir=tmp_path / "kafka")
    java, libs = kafka_local.find_java(), kafka_local.provision(config)
    config.data_dir.mkdir(parents=True)
    config.properties_file.write_text(kafka_local._server_properties(config))
    (config.data_dir / "log4j2.properties").write_text(kafka_local._log4j_properties())
    dash_first = kafka_local.base64.urlsafe_b64encode(DASH_FIRST).rstrip(b"=").decode()
    with pytest.raises(kafka_local.KafkaLocalError, match="cluster-id"):
        kafka_local._format_storage(java, libs, config, cluster_id=dash_first)
    draws = iter([DASH_FIRST, bytes(range(16))])
    kafka_local._format_storage(java, libs, config, kafka_local.new_cluster_id(lambda: next(draws)))
    assert (
        "cluster.id=AAECAwQFBgcICQoLDA0ODw"
        in (config.data_dir / "data" / "meta.properties").read_text()
    )
