"""Host metrics under the names the shipped rules use, whoever collected them.

The shipped host rules (rules/hosts.yaml) read OpenTelemetry's names with 0–1 ratios, as
``opsrules collect`` sends them: ``system.cpu.utilization`` (busy, all CPUs),
``system.memory.utilization`` (used) and ``system.filesystem.utilization`` (used, per
``mountpoint``). This table maps other collectors' readings onto them. A mapped reading
gives the canonical sample *besides* itself (Telegraf, Vector: their own name is kept);
where the collector already uses the OpenTelemetry name (the Collector's hostmetrics),
the points of other states move to ``<name>.<state>`` so a rule on the name reads only
the canonical one.

- Telegraf ``cpu`` ``usage_idle`` (tag ``cpu=cpu-total``, percent):
  ``system.cpu.utilization`` = 1 - idle/100.
- Telegraf ``mem`` ``used_percent``: ``system.memory.utilization`` = value/100.
- Telegraf ``disk`` ``used_percent`` (tag ``path``): ``system.filesystem.utilization`` =
  value/100, label ``mountpoint`` = the path.
- OpenTelemetry ``system.cpu.utilization`` with ``cpu.mode`` (or ``state``) ``idle``:
  ``system.cpu.utilization`` = 1 - value; other modes: ``system.cpu.utilization.<mode>``.
- OpenTelemetry ``system.memory.utilization``: ``used`` (``system.memory.state`` or
  ``state``) keeps the name; other states: ``system.memory.utilization.<state>``.
- OpenTelemetry ``system.filesystem.utilization``: itself, label ``mountpoint`` from
  ``system.filesystem.mountpoint`` (or ``mountpoint``).
- Vector ``host_metrics`` ``filesystem_used_ratio`` (tag ``mountpoint``):
  ``system.filesystem.utilization`` = value. Its CPU (seconds per mode) and memory
  (bytes total and available) come as several readings, which one pure decoder cannot
  join: the firehose does (processors/firehose/host_joins.py).
- collectd (``collectd.py``), its plugins with ``ValuesPercentage true``: ``cpu``
  ``percent-idle`` (``ReportByCpu false``: no plugin instance) →
  ``system.cpu.utilization`` = 1 - idle/100; ``memory`` ``percent-used`` →
  ``system.memory.utilization`` = value/100; ``df-<mount>`` ``percent_bytes-used`` →
  ``system.filesystem.utilization`` = value/100, label ``mountpoint`` undoing the df
  plugin's name for it (``root`` → ``/``, ``var-lib`` → ``/var/lib``: a mount point
  with a ``-`` of its own reads wrong, the plugin instance label keeps the original).

Counters (``cpu_seconds_total``, ``system.cpu.time``) are cumulative: they keep their
name and value as sent, marked ``"cumulative": True`` by their decoder, and the firehose
follows each with its per-second rate ``<name>.rate``
(processors/firehose/counter_rates.py; these pure decoders hold no state to make one).
Rates are not mapped onto the names above.
"""

from __future__ import annotations

from collections.abc import Mapping

Sample = tuple[str, float, dict[str, str]]  # (name, value, labels)

CPU = "system.cpu.utilization"
MEMORY = "system.memory.utilization"
FILESYSTEM = "system.filesystem.utilization"


def telegraf(measurement: str, field: str, value: float, tags: Mapping[str, str]) -> list[Sample]:
    """A Telegraf field: ``<measurement>.<field>`` as sent, and its canonical sample when
    the table maps it. ``tags`` are the labels (``host`` excepted by the caller)."""
    labels = dict(tags)
    out: list[Sample] = [(f"{measurement}.{field}", value, labels)]
    if (
        measurement == "cpu"
        and field == "usage_idle"
        and tags.get("cpu", "cpu-total") == "cpu-total"
    ):
        out.append((CPU, _ratio(100 - value, 100), {}))
    elif measurement == "mem" and field == "used_percent":
        out.append((MEMORY, _ratio(value, 100), {"state": "used"}))
    elif measurement == "disk" and field == "used_percent":
        mount = {"mountpoint": tags["path"]} if "path" in tags else {}
        out.append((FILESYSTEM, _ratio(value, 100), mount))
    return out


def otel(name: str, value: float, attributes: Mapping[str, str]) -> list[Sample]:
    """An OpenTelemetry data point (attributes as strings): itself, or for the host
    metrics of the table the canonical point and the others under ``<name>.<state>``."""
    labels = dict(attributes)
    if name == CPU:
        mode = attributes.get("cpu.mode", attributes.get("state"))
        if mode is None:
            return [(name, value, labels)]
        if mode == "idle":
            return [(CPU, 1.0 - value, _without(labels, "cpu.mode", "state"))]
        return [(f"{CPU}.{mode}", value, labels)]
    if name == MEMORY:
        state = attributes.get("system.memory.state", attributes.get("state"))
        if state is None or state == "used":
            return [(name, value, labels)]
        return [(f"{MEMORY}.{state}", value, labels)]
    if name == FILESYSTEM:
        mount = attributes.get("system.filesystem.mountpoint", attributes.get("mountpoint"))
        if mount is not None:
            labels["mountpoint"] = mount
        return [(name, value, labels)]
    return [(name, value, labels)]


def vector(name: str, value: float, tags: Mapping[str, str]) -> list[Sample]:
    """A Vector metric (``<namespace>_<name>`` joined by the caller, e.g.
    ``host_filesystem_used_ratio``): itself, and its canonical sample when mapped."""
    labels = dict(tags)
    out: list[Sample] = [(name, value, labels)]
    if name.endswith("filesystem_used_ratio"):
        mount = {"mountpoint": tags["mountpoint"]} if "mountpoint" in tags else {}
        out.append((FILESYSTEM, value, mount))
    return out


def collectd(name: str, value: float, labels: Mapping[str, str]) -> list[Sample]:
    """A collectd value (``collectd.<plugin>.<type>[.<type_instance>][.<ds>]``, named by
    the caller; ``labels`` hold ``plugin_instance`` and ``type_instance`` when set): itself,
    and its canonical sample when the table maps it."""
    out: list[Sample] = [(name, value, dict(labels))]
    instance = labels.get("plugin_instance")
    if name == "collectd.cpu.percent.idle" and instance is None:
        out.append((CPU, _ratio(100 - value, 100), {}))
    elif name == "collectd.memory.percent.used" and instance is None:
        out.append((MEMORY, _ratio(value, 100), {"state": "used"}))
    elif name == "collectd.df.percent_bytes.used" and instance is not None:
        mount = "/" if instance == "root" else "/" + instance.replace("-", "/")
        out.append((FILESYSTEM, _ratio(value, 100), {"mountpoint": mount}))
    return out


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 6)


def _without(labels: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k not in names}
