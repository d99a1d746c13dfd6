"""The packaged Istio samples are verbatim copies of istio/istio:security/tools/jwt/samples/."""

from __future__ import annotations

import hashlib

import pytest
from tests.support.samples import SAMPLES, SHA256


@pytest.mark.parametrize("name", sorted(SHA256))
def test_sample_is_a_verbatim_copy(name: str) -> None:
    assert hashlib.sha256((SAMPLES / name).read_bytes()).hexdigest() == SHA256[name]
