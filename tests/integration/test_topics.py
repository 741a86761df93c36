from __future__ import annotations

import pytest

from streams.topics import ensure_topics, topic_partitions, topic_specs
from tests.conftest import isolated_settings
from tests.kafka_io import run

pytestmark = pytest.mark.integration


def test_topics_are_created_once_with_prefix_and_partitions(kafka_bootstrap: str) -> None:
    settings = isolated_settings(kafka_bootstrap, partitions=3)
    names = [spec.name for spec in topic_specs(settings)]
    assert all(name.startswith(settings.topic_prefix) for name in names)

    assert sorted(run(ensure_topics(settings))) == sorted(names)
    assert run(ensure_topics(settings)) == []  # idempotent

    partitions = run(topic_partitions(settings, names))
    per_topic = {name: sum(tp.topic == name for tp in partitions) for name in names}
    assert per_topic == dict.fromkeys(names, 3)
