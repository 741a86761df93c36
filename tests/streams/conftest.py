from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests see the defaults, whatever OPSRULES_* the shell has."""
    for name in list(os.environ):
        if name.startswith("OPSRULES_"):
            monkeypatch.delenv(name)
