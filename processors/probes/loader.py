"""The targets file read and checked (``opsrules check`` prints its errors with the
rules'): schema errors at their line and column, and a probe name given twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from processors.probes.targets import CommandProbe, HttpProbe, Probe, ProbesFile, TcpProbe
from processors.rules.config_files import ConfigShape, read_config
from processors.rules.rule_errors import RuleError, model_keys, value_pos

SHAPE = ConfigShape(
    model=ProbesFile,
    items="probes",
    item_kind="probe",
    top_level="targets file is a mapping with a 'probes:' list",
    keys={
        "file": model_keys(ProbesFile),
        "probes": model_keys(Probe),
        "http": model_keys(HttpProbe),
        "tcp": model_keys(TcpProbe),
        "command": model_keys(CommandProbe),
    },
)


@dataclass
class ProbesLoad:
    probes: list[Probe] | None = None
    errors: list[RuleError] = field(default_factory=list)


def load_probes(path: Path | str) -> ProbesLoad:
    read = read_config(path, SHAPE, ProbesFile)
    result = ProbesLoad(errors=read.errors)
    if read.model is None or read.source is None:
        return result
    first: dict[str, int] = {}
    for index, probe in enumerate(read.model.probes):
        if probe.name in first:
            node = read.source.data["probes"][index]
            message = (
                f"probe {probe.name!r} is defined twice (first as probes[{first[probe.name]}])"
            )
            result.errors.append(
                read.source.error(value_pos(node, "name"), probe.name, message, "probe")
            )
        first.setdefault(probe.name, index)
    if not result.errors:
        result.probes = read.model.probes
    return result
