"""Fixtures of the Snowflake tests: one fakesnow server per session (`fakesnow_fixtures`), the real
snowflake-connector-python talking to it, a fresh Snowflake schema per warehouse.

In CI (`CI=true`) a missing fakesnow or connector fails the tests instead of skipping them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "sync"))

from fakesnow_fixtures import DATABASE, connect, fakesnow_port, new_snowflake_url

__all__ = ["DATABASE", "connect", "fakesnow_port", "new_snowflake_url"]


@pytest.fixture
def snowflake_url(new_snowflake_url: Callable[[], str]) -> str:
    """A fresh schema for one test."""
    return new_snowflake_url()
