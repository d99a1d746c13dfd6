"""Fuzz the YAML/JSON loader with Istio-shaped documents holding random values: problems, never an exception."""

from __future__ import annotations

import json

import yaml
from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings, run

from meshgate.config.load import LoadResult, load_text

SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
FIELDS = st.sampled_from(
    ["selector", "matchLabels", "jwtRules", "issuer", "jwksUri", "jwks", "audiences", "fromHeaders", "name",
     "prefix", "fromParams", "fromCookies", "outputPayloadToHeader", "outputClaimToHeaders", "header", "claim",
     "forwardOriginalToken", "action", "provider", "rules", "from", "to", "when", "source", "operation",
     "key", "values", "notValues", "paths", "hosts", "methods", "ports", "requestPrincipals", "ipBlocks",
     "targetRef", "targetRefs", "kind", "timeout", "x"]
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FIELDS, inner, max_size=4),
    max_leaves=25,
)
DOCS = st.fixed_dictionaries(
    {
        "apiVersion": st.sampled_from(["security.istio.io/v1", "security.istio.io/v1beta1", "v1", ""])
        | SCALARS,
        "kind": st.sampled_from(["RequestAuthentication", "AuthorizationPolicy", "List", "Other"]) | SCALARS,
        "metadata": st.fixed_dictionaries(
            {}, optional={"name": SCALARS, "namespace": SCALARS, "annotations": VALUES}
        ),
        "spec": VALUES,
    },
    optional={"items": st.lists(VALUES, max_size=2)},
)


@fuzz_settings(150)
@given(st.lists(DOCS, min_size=1, max_size=3), st.sampled_from(["yaml", "json"]))
def _load(docs: list[dict[str, object]], syntax: str) -> None:
    if syntax == "json":
        text = (
            "\n".join(json.dumps(d) for d in docs)
            if len(docs) == 1
            else json.dumps({"kind": "List", "items": docs})
        )
    else:
        text = yaml.safe_dump_all(docs)
    result = load_text(text, "fuzz.yaml")
    assert isinstance(result, LoadResult)
    assert all(p.file == "fuzz.yaml" and p.line >= 1 for p in result.problems)


def test_loader_never_raises() -> None:
    run(_load)


@fuzz_settings(150)
@given(st.text(max_size=300))
def _text(text: str) -> None:
    assert isinstance(load_text(text, "fuzz.yaml"), LoadResult)


def test_loader_never_raises_on_any_text() -> None:
    run(_text)
