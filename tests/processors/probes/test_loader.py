"""The targets file is checked as rule files are."""

from __future__ import annotations

from pathlib import Path

from processors.probes.loader import load_probes

REPO = Path(__file__).parents[3]


def errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "probes.yaml"
    path.write_text(text)
    return [str(e).removeprefix(f"{path}:") for e in load_probes(path).errors]


def test_the_shipped_targets_file_is_clean() -> None:
    loaded = load_probes(REPO / "rules" / "probes.yaml")
    assert loaded.errors == []
    assert [p.name for p in loaded.probes or []] == ["checkout_http", "orders_db", "disk_root"]


def test_every_problem_at_its_place(tmp_path: Path) -> None:
    text = """\
probes:
  - name: web
    service: web
    http: {url: "http://127.0.0.1/", timout: 1s}
  - name: web
    service: web
    tcp: {host: 127.0.0.1, port: 70000}
  - name: both
    service: x
    tcp: {host: a, port: 1}
    command: {argv: ["true"]}
  - name: fast
    service: x
    tcp: {host: a, port: 1}
    interval: 100ms
"""
    assert errors(tmp_path, text) == [
        "4:38: probe web: unknown field 'timout' (did you mean 'timeout'?)",
        "7:28: probe web: tcp.port: Input should be less than or equal to 65535",
        "8:5: probe both: a probe has exactly one of http, tcp, command; it has tcp, command",
        "12:5: probe fast: interval: at least 1s",
    ]


def test_a_name_given_twice(tmp_path: Path) -> None:
    text = """\
probes:
  - {name: web, service: web, tcp: {host: a, port: 1}}
  - {name: web, service: web, tcp: {host: b, port: 1}}
"""
    assert errors(tmp_path, text) == [
        "3:12: probe web: probe 'web' is defined twice (first as probes[0])"
    ]


def test_the_rules_readmes_example_is_a_clean_targets_file(tmp_path: Path) -> None:
    readme = (REPO / "rules" / "README.md").read_text()
    section = readme.split("## Active health checks: `opsrules probe`")[1]
    example = section.split("```yaml\n")[1].split("```")[0]
    assert errors(tmp_path, example) == []
