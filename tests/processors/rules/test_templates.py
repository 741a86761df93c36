from __future__ import annotations

import pytest

from processors.rules.templates import render_template

CONTEXT = {
    "value": 0.93456,
    "host": "web-1",
    "count": 150,
    "labels": {"cpu": "0"},
    "ok": True,
    "event.category": "authentication",
    "min": None,  # an empty window's stats
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("CPU {{ value }} on {{ host }}", "CPU 0.9346 on web-1"),
        ("{{count}} errors", "150 errors"),
        ("cpu {{ labels.cpu }}", "cpu 0"),
        ("{{ missing }} and {{ labels.nope }}", "<no missing> and <no nope>"),
        ("{{ ok }}", "true"),
        ("{{ event.category }}", "authentication"),
        ("no placeholders {{ not closed", "no placeholders {{ not closed"),
        ("CPU {{ value * 100 }} percent on {{ host }}", "CPU 93.46 percent on web-1"),
        ("{{ value | percent }}", "93.46%"),
        ("{{ (value * 100) | round(1) }}%", "93.5%"),
        ("{{ missing * 100 }}", "<no missing>"),
        ("{{ value - min }}", "<no min>"),
        ("{{ missing | default('n/a') }}", "n/a"),
        ("{{ 1536 | bytes }} {{ 3723 | duration }} {{ 0.25 | duration }}", "1.5 KiB 1h2m3s 250ms"),
        ("{% if value > 0.9 %}hot{% else %}ok{% endif %}", "hot"),
        ("{{ event.category | upper }}", "AUTHENTICATION"),
        ("{{ host.__class__ }}", "<no __class__>"),  # the sandbox: no internals
        ('{ "json": 1 }', '{ "json": 1 }'),
    ],
)
def test_render(template: str, expected: str) -> None:
    assert render_template(template, CONTEXT) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{{ __import__('os') }}",
        "{{ value + 'x' }}",
        "{% for i in range(10) %}{% endfor %}",  # no range: no unbounded work
    ],
)
def test_a_template_that_fails_at_run_time_renders_itself_with_the_error(template: str) -> None:
    rendered = render_template(template, CONTEXT)
    assert rendered.startswith(template + " <template error: ")


def test_rendering_never_writes_into_the_context() -> None:
    context = {"event": {"outcome": "failure"}, "event.category": "authentication"}
    assert render_template("{{ event.category }} {{ event.outcome }}", context) == (
        "authentication failure"
    )
    assert context == {"event": {"outcome": "failure"}, "event.category": "authentication"}


@pytest.mark.parametrize(
    ("template", "error"),
    [
        # a gigabyte (and 8 GB for the list): the worker, or opsrules check, ran out of
        # memory; Jinja folds the constant even as it compiles
        ("{{ 'x' * 1000000000 }}", "'*' would make more than 4096 characters or items"),
        ("{{ [0] * 1000000000 }}", "'*' would make more than 4096 characters or items"),
        ("{{ 1000000000 * host }}", "'*' would make more than 4096 characters or items"),
        ("{{ 2 ** 1000000000 }}", "'**' would make an integer of more than 4096 bits"),
    ],
)
def test_a_template_cannot_make_huge_values(template: str, error: str) -> None:
    text = render_template(template, {"host": "web-1"})
    assert text == f"{template} <template error: SecurityError: {error}>"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ 2.5 ** 2 }}", "ababab 1024 6.25"),
        ("{{ '\\ud800' }}|{{ host }}", "\ufffd|web-1"),  # orjson cannot write a surrogate
    ],
)
def test_what_a_template_may_make(template: str, expected: str) -> None:
    assert render_template(template, {"host": "web-1"}) == expected
