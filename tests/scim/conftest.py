"""Fixtures of the tests of the scim app."""
from __future__ import annotations

import pytest

from scim import tokens


@pytest.fixture
def forget_tokens():
    """The process's memory of verified tokens (scim.tokens) empty before and after."""
    tokens._verified.clear()
    yield
    tokens._verified.clear()
