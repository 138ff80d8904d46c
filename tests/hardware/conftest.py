"""Opt-in tests against a physical PC/SC reader: `pytest tests/hardware --reader NAME`.

NAME is all or part of a reader name from `desk readers`. Without --reader they skip.
They never send a PIN, so a real card's retry counters are never touched.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def physical_reader(request: pytest.FixtureRequest) -> str:
    name = request.config.getoption("--reader")
    if not name:
        pytest.skip("needs a physical reader: pass --reader NAME (names: `desk readers`)")
    return name
