"""The topics of docs/architecture.md ("Topics"), named by settings; idempotent creation."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import get_args

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from processors.errors import KafkaUnavailableError, OpsrulesError
from processors.records import ActionType
from streams.settings import OpsrulesSettings

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code


@dataclass(frozen=True, slots=True)
class TopicSpec:
    role: str  # the settings field that names it, without "topic_"
    name: str  # full name, prefix included
    partitions: int
    config: dict[str, str]


# Roles in the order of docs/architecture.md's "Topics" table; each is a ``topic_<role>`` setting.
TOPIC_ROLES = (
    "metrics",
    "logs",
    "security",
    "health",
    "events",
    "signals",
    "actions_alert",
    "actions_heal",
    "actions_scale",
    "actions_incident",
    "actions_results",
    "deadletter",
    "silences",
    "decisions",
)

ACTION_TYPES: tuple[str, ...] = get_args(ActionType)  # each has its topic, actions_<type>

# Dead letters are kept for two weeks so an operator can replay them after a fix.
_TOPIC_CONFIG = {
    "deadletter": {"retention.ms": str(14 * 24 * 3600 * 1000)},
    # every decision worker reads every silence; an expired one is kept (compaction
    # keeps the latest version of each id), so `silence list --all` can show it
    "silences": {"cleanup.policy": "compact"},
}


def alerts_changelog_topic(settings: OpsrulesSettings) -> str:
    """The decision tier's alert state (compacted; partition p holds the state of the
    alerts whose signals arrive on partition p of the signals topic)."""
    return settings.topic(f"{settings.app_id}.alerts.changelog")


def firing_alerts_topic(settings: OpsrulesSettings) -> str:
    """Every firing alert of the decision tier (compacted, key = fingerprint, a tombstone
    when it resolves), read fully by every decision worker for inhibition."""
    return settings.topic(f"{settings.app_id}.alerts.firing")


def deliveries_topic(settings: OpsrulesSettings) -> str:
    """What ``opsrules act`` delivered (compacted, key ``<action id>/<receiver>``): read
    when partitions are assigned, so a restart or another instance skips what is done.
    A week is kept: an action is redelivered only until its offset is committed."""
    return settings.topic(f"{settings.app_id}.act.deliveries")


def topic_specs(settings: OpsrulesSettings) -> list[TopicSpec]:
    """Every topic opsrules reads or writes, with its full name and partitions: the
    topics of :data:`TOPIC_ROLES`, then the internal ``alerts_changelog``,
    ``alerts_firing`` and ``act_deliveries``."""
    return [
        TopicSpec(
            role=role,
            name=settings.topic(getattr(settings, f"topic_{role}")),
            partitions=settings.partitions,
            config=_TOPIC_CONFIG.get(role, {}),
        )
        for role in TOPIC_ROLES
    ] + [
        TopicSpec(
            role="alerts_changelog",
            name=alerts_changelog_topic(settings),
            partitions=settings.partitions,
            config={"cleanup.policy": "compact"},
        ),
        TopicSpec(
            role="alerts_firing",
            name=firing_alerts_topic(settings),
            partitions=settings.partitions,
            config={"cleanup.policy": "compact"},
        ),
        TopicSpec(
            role="act_deliveries",
            name=deliveries_topic(settings),
            partitions=settings.partitions,
            config={"cleanup.policy": "compact,delete", "retention.ms": str(7 * 86_400_000)},
        ),
    ]


def action_topic(settings: OpsrulesSettings, action_type: str) -> str:
    return settings.topic(getattr(settings, f"topic_actions_{action_type}"))


async def _start_admin(settings: OpsrulesSettings, timeout_s: float) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(**settings.aiokafka_kwargs(), request_timeout_ms=15_000)
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
    except (TimeoutError, KafkaConnectionError, KafkaError, OSError) as exc:
        await admin.close()
        raise KafkaUnavailableError(settings.bootstrap_servers, str(exc) or repr(exc)) from None
    return admin


async def topic_partitions(
    settings: OpsrulesSettings, topics: list[str], timeout_s: float = 30.0
) -> list[TopicPartition]:
    """Every partition of ``topics`` (full names), from fresh cluster metadata."""
    admin = await _start_admin(settings, timeout_s)
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return [
        TopicPartition(t["topic"], p["partition"])
        for t in described
        if t["error_code"] == 0
        for p in t["partitions"]
    ]


async def group_offsets(
    settings: OpsrulesSettings, group_id: str, partitions: list[TopicPartition]
) -> dict[TopicPartition, OffsetAndMetadata]:
    """What ``group_id`` committed for ``partitions``, metadata included (a partition
    without a commit is missing or has offset -1)."""
    admin = await _start_admin(settings, timeout_s=30.0)
    try:
        return dict(await admin.list_consumer_group_offsets(group_id, partitions=partitions))
    finally:
        await admin.close()


class TopicCreationError(OpsrulesError):
    def __init__(self, topic: str, detail: str) -> None:
        self.topic = topic
        super().__init__(f"could not create topic {topic!r}: {detail}")


async def ensure_topics(
    settings: OpsrulesSettings, specs: list[TopicSpec] | None = None, timeout_s: float = 30.0
) -> list[str]:
    """Create the topics that do not exist yet; return the names created.

    Idempotent: existing topics are left as they are (a partition count that differs
    from the settings is logged, never changed).
    """
    specs = topic_specs(settings) if specs is None else specs
    admin = await _start_admin(settings, timeout_s)
    try:
        existing = {t["topic"]: t for t in await admin.describe_topics()}
        for spec in specs:
            if spec.name in existing:
                have = len(existing[spec.name]["partitions"])
                if have != spec.partitions:
                    log.warning(
                        "topic %s has %d partitions, settings say %d (left unchanged)",
                        spec.name,
                        have,
                        spec.partitions,
                    )
        missing = [s for s in specs if s.name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(
                    name=s.name,
                    num_partitions=s.partitions,
                    replication_factor=settings.replication_factor,
                    topic_configs=s.config,
                )
                for s in missing
            ]
        )
        created = []
        for topic, code, *rest in response.topic_errors:
            if code == 0:
                created.append(topic)
            elif code != TOPIC_ALREADY_EXISTS:  # a concurrent creator won the race
                message = rest[0] if rest and rest[0] else f"error code {code}"
                raise TopicCreationError(topic, message)
        return created
    finally:
        await admin.close()
