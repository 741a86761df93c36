"""OTLP/JSON's shared vocabulary: numbers, AnyValues, attributes, the resource, and
errors that name their path.

Follows the OTLP specification's JSON encoding
(https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): 64-bit integers
come as decimal strings or as numbers, doubles as numbers or strings (``"NaN"``,
``"Infinity"``), ids as hex, enums as integers; unknown fields are ignored.
:mod:`processors.formats.otlp_proto` turns the binary encoding into the same shape, so
one decoder reads both.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from processors.formats import FormatError

_FIELD = re.compile(r"[A-Za-z]\w*(\[\d+\])*[.:]")  # a message that starts with a path
UINT64_MAX = 2**64 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Resource attributes that become a record's own fields, not its labels / ``resource``.
HOST_NAME, SERVICE_NAME, SERVICE_INSTANCE = "host.name", "service.name", "service.instance.id"


def at(prefix: str, exc: FormatError) -> FormatError:
    """``exc`` placed under ``prefix``: ``resourceMetrics[0]`` + ``metrics[2]…: why`` is
    ``resourceMetrics[0].metrics[2]…: why``; a message that names no field (``no asInt``)
    is about ``prefix`` itself: ``prefix: no asInt``."""
    message = str(exc)
    return FormatError(f"{prefix}{'.' if _FIELD.match(message) else ': '}{message}")


def items(container: dict[str, Any], key: str) -> list[Any]:
    """The list under ``key`` (absent or null: empty); anything else is a FormatError."""
    value = container.get(key)
    if value.__class__ is list:
        return value
    if value is None:
        return []
    raise FormatError(f"{key}: expected a list, got {_kind(value)}")


def objects(container: dict[str, Any], key: str) -> Iterable[tuple[int, dict[str, Any]]]:
    """The objects of the list under ``key`` with their indexes; a non-object is named."""
    for index, value in enumerate(items(container, key)):
        if value.__class__ is not dict:
            raise FormatError(f"{key}[{index}]: expected an object, got {_kind(value)}")
        yield index, value


def each(container: dict[str, Any], key: str, one: Callable[[dict[str, Any]], None]) -> None:
    """``one`` of every object of the list under ``key``, in order; a FormatError it
    raises is placed under the object's path (``key[i]``)."""
    for index, value in objects(container, key):
        try:
            one(value)
        except FormatError as exc:
            raise at(f"{key}[{index}]", exc) from None


def scopes(resource: dict[str, Any], signal: str) -> str:
    """The key of a resource's scopes: ``scopeMetrics`` / ``scopeLogs``, or before OTLP
    0.15 (2022) ``instrumentationLibraryMetrics`` / ``instrumentationLibraryLogs``."""
    key = f"scope{signal}"
    return key if key in resource else f"instrumentationLibrary{signal}"


def uint64(value: Any, field: str) -> int:
    """An unsigned 64-bit integer given as a number or a decimal string (``"123"``)."""
    number = _integer(value)
    if number is None or not 0 <= number <= UINT64_MAX:
        raise FormatError(f"{field}: {value!r} is not an unsigned 64-bit integer")
    return number


def int64(value: Any, field: str) -> int:
    """A signed 64-bit integer given as a number or a decimal string (``"-12"``)."""
    number = _integer(value)
    if number is None or not INT64_MIN <= number <= INT64_MAX:
        raise FormatError(f"{field}: {value!r} is not a signed 64-bit integer")
    return number


def double(value: Any, field: str) -> float:
    """A double given as a number or a string (``"1.5"``, ``"NaN"``, ``"-Infinity"``).
    Non-finite values pass: ingest rejects them as ``non_finite_value``."""
    if value.__class__ is float or value.__class__ is int:
        return float(value)
    if value.__class__ is str and value == value.strip() and "_" not in value:
        try:
            return float(value)
        except ValueError:
            pass
    raise FormatError(f"{field}: {value!r} is not a number")


def _integer(value: Any) -> int | None:
    if value.__class__ is int:
        return value
    if value.__class__ is str:
        digits = value[1:] if value[:1] == "-" else value
        return int(value) if digits.isascii() and digits.isdigit() else None
    if value.__class__ is float and value.is_integer():
        return int(value)  # an encoder that wrote 1.5447126603e18
    return None


def any_value(value: Any, field: str) -> Any:
    """An AnyValue as a plain JSON value: strings, ints, floats and bools as themselves,
    arrays as lists, kvlists as objects, bytes as the base64 text they came as; an empty
    AnyValue is None."""
    if value.__class__ is not dict:
        raise FormatError(f"{field}: expected an AnyValue object, got {_kind(value)}")
    for kind, inner in value.items():
        if kind == "stringValue" or kind == "bytesValue":
            if inner.__class__ is not str:
                raise FormatError(f"{field}.{kind}: {inner!r} is not a string")
            return inner
        if kind == "intValue":
            return int64(inner, f"{field}.intValue")
        if kind == "doubleValue":
            return double(inner, f"{field}.doubleValue")
        if kind == "boolValue":
            if inner.__class__ is not bool:
                raise FormatError(f"{field}.boolValue: {inner!r} is not true or false")
            return inner
        if kind == "arrayValue" or kind == "kvlistValue":
            where = f"{field}.{kind}"
            if inner.__class__ is not dict:
                raise FormatError(f"{where}: expected an object, got {_kind(inner)}")
            try:
                values = items(inner, "values")
            except FormatError as exc:
                raise at(where, exc) from None
            if kind == "kvlistValue":
                return attributes(values, f"{where}.values")
            return [any_value(v, f"{where}.values[{i}]") for i, v in enumerate(values)]
    return None  # no value set (or only fields we do not know)


def attributes(kvs: list[Any], field: str) -> dict[str, Any]:
    """A KeyValue list (``[{"key": …, "value": {…}}]``) at ``field`` as ``{key: plain
    value}``."""
    out: dict[str, Any] = {}
    for index, kv in enumerate(kvs):
        if kv.__class__ is not dict or kv.get("key").__class__ is not str:
            raise FormatError(f"{field}[{index}]: expected {{'key': str, 'value': AnyValue}}")
        value = kv.get("value")
        out[kv["key"]] = None if value is None else any_value(value, f"{field}[{index}].value")
    return out


def labels(kvs: list[Any], field: str, base: dict[str, str]) -> dict[str, str]:
    """A KeyValue list at ``field`` as metric labels over a copy of ``base``: strings as
    themselves, the rest as text (:func:`text`)."""
    out = dict(base)
    for kv in kvs:  # the common case, every value a string, in one step each
        value = kv.get("value") if kv.__class__ is dict else None
        string: Any = value.get("stringValue") if value.__class__ is dict else None
        key = kv.get("key") if string.__class__ is str else None
        if key.__class__ is not str:
            break
        out[key] = string
    else:
        return out
    out = dict(base)
    for key, plain in attributes(kvs, field).items():
        out[key] = text(plain)
    return out


def text(value: Any) -> str:
    """A plain value as text: strings as they are, bools ``true``/``false``, numbers in
    decimal, lists and objects as compact JSON, None as the empty string."""
    if value.__class__ is str:
        return value
    if value is None:
        return ""
    if value.__class__ is bool:
        return "true" if value else "false"
    if value.__class__ is int or value.__class__ is float:
        return repr(value)
    return orjson.dumps(value).decode()


def hex_id(value: Any, field: str, size: int) -> str:
    """A trace (16 bytes) or span (8 bytes) id as lower-case hex. OTLP/JSON writes hex;
    protobuf's generic JSON mapping writes base64, which some encoders send: both read."""
    if value.__class__ is str:
        if len(value) == 2 * size:
            try:
                return bytes.fromhex(value).hex()
            except ValueError:
                pass
        elif len(value) == 4 * ((size + 2) // 3):
            try:
                decoded = base64.b64decode(value, validate=True)
            except binascii.Error:
                decoded = b""
            if len(decoded) == size:
                return decoded.hex()
    raise FormatError(f"{field}: {value!r} is not a hex id of {size} bytes")


def resource_of(resource: Any) -> dict[str, Any]:
    """A resource's attributes as plain values (an absent resource has none)."""
    if resource is None:
        return {}
    if resource.__class__ is not dict:
        raise FormatError(f"resource: expected an object, got {_kind(resource)}")
    try:
        kvs = items(resource, "attributes")
    except FormatError as exc:
        raise at("resource", exc) from None
    return attributes(kvs, "resource.attributes")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        value.__class__, "a number"
    )
