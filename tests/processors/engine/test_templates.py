from __future__ import annotations

import pytest

from processors.engine.templates import render_template

CONTEXT = {
    "value": 0.93456,
    "host": "web-1",
    "count": 150,
    "labels": {"cpu": "0"},
    "ok": True,
    "event.category": "authentication",
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("CPU {{ value }} on {{ host }}", "CPU 0.9346 on web-1"),
        ("{{count}} errors", "150 errors"),
        ("cpu {{ labels.cpu }}", "cpu 0"),
        ("{{ missing }} and {{ labels.nope }}", "<no missing> and <no labels.nope>"),
        ("{{ ok }}", "true"),
        ("{{ event.category }}", "authentication"),
        ("no placeholders {{ not closed", "no placeholders {{ not closed"),
        ("{{ __import__('os') }}", "{{ __import__('os') }}"),
    ],
)
def test_render(template: str, expected: str) -> None:
    assert render_template(template, CONTEXT) == expected
