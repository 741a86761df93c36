"""collectd's ``write_kafka`` plugin, read as metric samples: its ``Format JSON`` and
``Format Graphite`` (collectd 5.x: src/write_kafka.c, src/utils/format_json/format_json.c,
src/utils/format_graphite/format_graphite.c; options in collectd.conf(5), "Plugin
write_kafka").

One Kafka message is one *value list*: a plugin's reading of one type at one time, with
one value per data source of the type (``load`` has ``shortterm``, ``midterm``,
``longterm``; most types one, ``value``).

- JSON: an array of value lists ``[{"values": [...], "dstypes": [...], "dsnames": [...],
  "time": <epoch s, 3 decimals>, "interval": <s>, "host", "plugin", "plugin_instance",
  "type", "type_instance"}]`` (``meta`` too when the value list has some: ignored, as
  is ``interval``). A gauge that is NaN is written ``null``: it reaches ingest as a
  non-finite value. write_kafka sends one value list per message; several are read.
- Graphite: one line ``<name> <value> <epoch s>\\r\\n`` per data source, the name
  ``<GraphitePrefix><host><GraphitePostfix>.<plugin>[-<plugin_instance>].<type>
  [-<type_instance>][.<ds>]``, the data source appended when the type has several
  (or with ``GraphiteAlwaysAppendDS``). collectd replaces spaces, control characters,
  ``"\\:!/()`` and (unless ``GraphitePreserveSeparator``) the dots inside each part
  with ``GraphiteEscapeChar``, so a name is cut at its dots from the right: the last
  part is the data source when the message holds several lines that differ only there,
  or when it is ``value`` (``GraphiteAlwaysAppendDS``; no collectd type is named
  ``value``); then the type, the plugin, and everything left of them is the host. A
  ``GraphitePrefix`` or ``GraphitePostfix`` therefore reads as part of the host: leave
  them unset. Assumed, and not detectable from a line: ``GraphiteSeparateInstances
  false`` (the default; with ``true`` instances would read as parts of the host) and an
  escape character other than ``.`` (write_kafka.c's built-in default is ``.``, which
  leaves a dot inside an instance, e.g. ``eth0.100``, to split it; set
  ``GraphiteEscapeChar "_"``). The tagged form (``GraphiteUseTags``, where supported:
  ``<plugin>.<type>[.<ds>];host=…;plugin=…;plugin_instance=…;type=…;type_instance=…;
  ds_name=…``) is read by its tags and needs none of these assumptions.

Samples: ``collectd.<plugin>.<type>[.<type_instance>][.<ds>]`` (the data source only
for types of several), value as sent, ``host`` collectd's host, labels
``plugin_instance`` and ``type_instance`` when set and, in JSON, ``dstype``; plus the
host metrics of ``host_metrics.collectd`` (CPU, memory, filesystem with
``ValuesPercentage true``). A ``counter``, ``derive`` or ``absolute`` value is what
write_kafka sent: with ``StoreRates true`` (write_kafka.c's default; collectd.conf(5)
says false, the code sets true) already a rate per second, with ``false`` the
cumulative count, which a rule can only use through a rate: these decoders hold no
state to make one. The message does not say which (``dstypes`` is the same).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from processors.formats import NOT_JSON, Format, FormatError, Payload
from processors.formats import host_metrics as hm

DSTYPES = frozenset({"gauge", "counter", "derive", "absolute"})
_IDENTIFIER = ("host", "plugin", "plugin_instance", "type", "type_instance")
# A Graphite line as collectd writes it: name, number (printf's %g, %f or an integer,
# "nan"/"inf" for a gauge that is not finite), integer epoch seconds.
_NUMBER = rb"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf(?:inity)?)"
_GRAPHITE_LINE = re.compile(rb"(\S+) (" + _NUMBER + rb") (\d+)\r?", re.IGNORECASE)
_VALUE = re.compile(_NUMBER.decode(), re.IGNORECASE)
_LAYOUT = (
    "<host>.<plugin>[-<plugin_instance>].<type>[-<type_instance>][.<ds>] "
    "(GraphiteSeparateInstances false)"
)


def sample_name(plugin: str, type_: str, type_instance: str, ds: str | None) -> str:
    """``collectd.<plugin>.<type>[.<type_instance>][.<ds>]``."""
    name = f"collectd.{plugin}.{type_}"
    if type_instance:
        name += f".{type_instance}"
    return f"{name}.{ds}" if ds is not None else name


def _samples(
    ts_ms: int,
    ident: dict[str, str],
    values: list[tuple[str | None, float, dict[str, str]]],
    out: list[dict[str, Any]],
) -> None:
    """Append the samples of one value list: ``values`` are (data source name when the
    type has several, value, own labels)."""
    labels = {k: ident[k] for k in ("plugin_instance", "type_instance") if ident[k]}
    for ds, value, own in values:
        name = sample_name(ident["plugin"], ident["type"], ident["type_instance"], ds)
        for sample, number, sample_labels in hm.collectd(name, value, {**labels, **own}):
            out.append(
                {
                    "ts_ms": ts_ms,
                    "name": sample,
                    "value": number,
                    "host": ident["host"],
                    "labels": sample_labels,
                }
            )


# --- Format JSON ------------------------------------------------------------------


def detect_json(payload: Payload) -> bool:
    """A JSON array whose first item has ``values``, ``dstypes`` and ``dsnames``."""
    data = payload.data
    if data.__class__ is not list or not data:
        return False
    first = data[0]
    return first.__class__ is dict and all(k in first for k in ("values", "dstypes", "dsnames"))


def decode_json(payload: Payload, source: str) -> list[dict[str, Any]]:
    """A ``Format JSON`` message → its samples; FormatError ``[i].field: why``."""
    if payload.data.__class__ is not list:
        raise FormatError("expected a JSON array of value lists")
    out: list[dict[str, Any]] = []
    for index, value_list in enumerate(payload.data):
        _value_list(f"[{index}]", value_list, out)
    return out


def _value_list(where: str, vl: Any, out: list[dict[str, Any]]) -> None:
    if vl.__class__ is not dict:
        raise FormatError(f"{where}: expected an object (a value list), got {_kind(vl)}")
    ident = {}
    for key in _IDENTIFIER:
        instance = key.endswith("instance")  # may be empty, or absent
        text = vl.get(key, "" if instance else None)
        if text.__class__ is not str or not (text or instance):
            wanted = "a string" if instance else "a non-empty string"
            raise FormatError(f"{where}.{key}: expected {wanted}, got {_kind(text)}")
        ident[key] = text
    time_s = vl.get("time")
    if time_s.__class__ is not float and time_s.__class__ is not int:
        raise FormatError(f"{where}.time: expected epoch seconds, got {_kind(time_s)}")
    values, dstypes, dsnames = (_list(where, vl, k) for k in ("values", "dstypes", "dsnames"))
    if not len(values) == len(dstypes) == len(dsnames) > 0:
        raise FormatError(
            f"{where}: values, dstypes and dsnames must be as long as each other (one per "
            f"data source), not {len(values)}, {len(dstypes)} and {len(dsnames)}"
        )
    several = len(values) > 1
    parsed: list[tuple[str | None, float, dict[str, str]]] = []
    for i, (value, dstype, dsname) in enumerate(zip(values, dstypes, dsnames, strict=True)):
        if dstype.__class__ is not str or dstype not in DSTYPES:
            raise FormatError(
                f"{where}.dstypes[{i}]: {dstype!r} is none of {', '.join(sorted(DSTYPES))}"
            )
        if dsname.__class__ is not str or not dsname:
            raise FormatError(f"{where}.dsnames[{i}]: expected a name, got {_kind(dsname)}")
        if value is None:  # collectd's NaN
            value = float("nan")
        elif value.__class__ is not float and value.__class__ is not int:
            raise FormatError(f"{where}.values[{i}]: expected a number, got {_kind(value)}")
        parsed.append((dsname if several else None, float(value), {"dstype": dstype}))
    _samples(round(time_s * 1000), ident, parsed, out)


def _list(where: str, vl: dict[str, Any], key: str) -> list[Any]:
    value = vl.get(key)
    if value.__class__ is not list:
        raise FormatError(f"{where}.{key}: expected an array, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    return type(value).__name__


# --- Format Graphite --------------------------------------------------------------


def detect_graphite(payload: Payload) -> bool:
    """Not JSON, and the first line is ``<name> <number> <integer>`` with a tagged name
    (``;host=``) or one of three dotted parts at least."""
    if payload.data is not NOT_JSON:
        return False
    first = payload.raw.lstrip(b"\r\n").split(b"\n", 1)[0]
    match = _GRAPHITE_LINE.fullmatch(first)
    return match is not None and (b";host=" in match[1] or match[1].count(b".") >= 2)


class _Line(NamedTuple):
    number: int
    ident: dict[str, str]
    ds: str | None  # the data source named, or (untagged) the last part that may be one
    tagged: bool
    value: float
    ts_ms: int


def decode_graphite(payload: Payload, source: str) -> list[dict[str, Any]]:
    """A ``Format Graphite`` message (one value list, as write_kafka sends) → its
    samples; FormatError ``line N: why``."""
    try:
        text = payload.raw.decode()
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 (byte {exc.start})") from None
    lines = [
        _graphite_line(number, line.rstrip("\r"))
        for number, line in enumerate(text.split("\n"), 1)
        if line.strip()
    ]
    if not lines:
        raise FormatError("no line: a Graphite message is '<name> <value> <epoch s>' lines")
    # A type of several data sources has one line each, the same but for the last part.
    sources: dict[tuple[str, ...], set[str | None]] = {}
    for line in lines:
        sources.setdefault(tuple(line.ident.values()), set()).add(line.ds)
    out: list[dict[str, Any]] = []
    for line in lines:
        ident, ds = line.ident, line.ds
        several = len(sources[tuple(ident.values())]) > 1
        if ds is not None and not several and not line.tagged and ds != "value":
            ident = _identifier(*_joined(ident), ds)  # the last part was the type
        _samples(line.ts_ms, ident, [(ds if several else None, line.value, {})], out)
    return out


def _graphite_line(number: int, line: str) -> _Line:
    parts = line.split()
    if len(parts) != 3:
        raise FormatError(f"line {number}: expected '<name> <value> <epoch s>', got {line!r}")
    name, value_text, ts_text = parts
    if _VALUE.fullmatch(value_text) is None:
        raise FormatError(f"line {number}: value {value_text!r} is not a number")
    if not (ts_text.isascii() and ts_text.isdigit()):
        raise FormatError(f"line {number}: time {ts_text!r} is not integer epoch seconds")
    tagged = ";host=" in name  # a lone ";" may be in an instance
    try:
        ident, ds = _tagged(name) if tagged else _untagged(name)
    except FormatError as exc:
        raise FormatError(f"line {number}: metric {name!r}: {exc}") from None
    return _Line(number, ident, ds, tagged, float(value_text), int(ts_text) * 1000)


def _untagged(name: str) -> tuple[dict[str, str], str | None]:
    """The identifier of ``<host>.<plugin>[-pi].<type>[-ti][.<ds>]``, the last part read
    as a data source when there is room for one (the caller takes it back if not)."""
    parts = name.split(".")
    if len(parts) < 3:
        raise FormatError(f"{len(parts)} dot-separated parts; collectd writes {_LAYOUT}")
    ds = parts.pop() if len(parts) >= 4 else None
    return _identifier(".".join(parts[:-2]), parts[-2], parts[-1]), ds


def _joined(ident: dict[str, str]) -> tuple[str, str]:
    """(host.plugin part, type part) of an identifier read one part too far left."""
    plugin, type_ = ident["plugin"], ident["type"]
    if ident["plugin_instance"]:
        plugin += f"-{ident['plugin_instance']}"
    if ident["type_instance"]:
        type_ += f"-{ident['type_instance']}"
    return f"{ident['host']}.{plugin}", type_


def _identifier(host: str, plugin_part: str, type_part: str) -> dict[str, str]:
    plugin, _, plugin_instance = plugin_part.partition("-")
    type_, _, type_instance = type_part.partition("-")
    if not (host and plugin and type_):
        raise FormatError(f"an empty host, plugin or type; collectd writes {_LAYOUT}")
    return {
        "host": host,
        "plugin": plugin,
        "plugin_instance": plugin_instance,
        "type": type_,
        "type_instance": type_instance,
    }


def _tagged(name: str) -> tuple[dict[str, str], str | None]:
    """``GraphiteUseTags``: the identifier from the tags (``type`` absent when it equals
    the plugin, as ``GraphiteDropDupeFields`` leaves it)."""
    tags = dict(tag.partition("=")[::2] for tag in name.split(";")[1:])
    if not tags.get("host") or not tags.get("plugin"):
        raise FormatError("a tagged name without host= or plugin=")
    ident = {
        "host": tags["host"],
        "plugin": tags["plugin"],
        "plugin_instance": tags.get("plugin_instance", ""),
        "type": tags.get("type") or tags["plugin"],
        "type_instance": tags.get("type_instance", ""),
    }
    return ident, tags.get("ds_name")


JSON = Format(
    "collectd_json",
    frozenset({"metric"}),
    detect_json,
    decode_json,
    "collectd write_kafka, Format JSON (value lists)",
)
GRAPHITE = Format(
    "collectd_graphite",
    frozenset({"metric"}),
    detect_graphite,
    decode_graphite,
    "collectd write_kafka, Format Graphite (plaintext lines)",
)
