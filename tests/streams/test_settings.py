from __future__ import annotations

import pytest

from processors.errors import SettingsError
from streams.settings import load_settings
from streams.topics import TOPIC_ROLES, topic_specs


def test_defaults() -> None:
    settings = load_settings()
    assert settings.bootstrap_servers == "127.0.0.1:9092"
    assert settings.app_id == "opsrules"
    assert [s.name for s in topic_specs(settings)][:2] == ["ops.metrics", "ops.logs"]
    assert {s.partitions for s in topic_specs(settings)} == {4}


def test_environment_prefix_names_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSRULES_TOPIC_PREFIX", "team-a.")
    monkeypatch.setenv("OPSRULES_APP_ID", "ops-a")
    monkeypatch.setenv("OPSRULES_TOPIC_SIGNALS", "my.signals")
    monkeypatch.setenv("OPSRULES_PARTITIONS", "8")
    settings = load_settings()
    names = {s.role: s.name for s in topic_specs(settings)}
    assert names["metrics"] == "team-a.ops.metrics"
    assert names["signals"] == "team-a.my.signals"
    assert set(names) == {*TOPIC_ROLES, "alerts_changelog", "alerts_firing", "act_deliveries"}
    assert len(names) == 17
    assert names["alerts_changelog"] == "team-a.ops-a.alerts.changelog"
    assert names["alerts_firing"] == "team-a.ops-a.alerts.firing"
    assert names["act_deliveries"] == "team-a.ops-a.act.deliveries"
    assert names["silences"] == "team-a.ops.silences"
    assert names["decisions"] == "team-a.ops.decisions"
    assert settings.group_id("firehose") == "ops-a.firehose"
    assert {s.partitions for s in topic_specs(settings)} == {8}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OPSRULES_BOOTSTRAP_SERVERS", "localhost"),
        ("OPSRULES_BOOTSTRAP_SERVERS", "a:1,b:notaport"),
        ("OPSRULES_PARTITIONS", "0"),
        ("OPSRULES_APP_ID", "has space"),
        ("OPSRULES_SECURITY_PROTOCOL", "TLS"),
        ("OPSRULES_KAFKA_HEAP", "lots"),
    ],
)
def test_invalid_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert f"{variable}={value!r}" in str(caught.value)


def test_sasl_needs_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSRULES_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    with pytest.raises(SettingsError, match="OPSRULES_SASL_USERNAME"):
        load_settings()


def test_sasl_settings_pass_through_to_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSRULES_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("OPSRULES_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("OPSRULES_SASL_USERNAME", "ops")
    monkeypatch.setenv("OPSRULES_SASL_PASSWORD", "secret")
    settings = load_settings()
    kwargs = settings.aiokafka_kwargs()
    assert kwargs["security_protocol"] == "SASL_PLAINTEXT"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("ops", "secret")
    credentials = settings.faust_credentials()
    assert credentials.username == "ops"
    assert credentials.mechanism.value == "SCRAM-SHA-512"


def test_ssl_builds_a_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSRULES_SECURITY_PROTOCOL", "SSL")
    settings = load_settings()
    assert settings.aiokafka_kwargs()["ssl_context"] is not None
    assert settings.faust_credentials().context is not None
    assert load_settings(security_protocol="PLAINTEXT").faust_credentials() is None
