"""Fuzz the loader with Gateway/VirtualService/ServiceEntry/Secret documents holding random values, and the RE2
translator with random patterns: problems or RE2Error, never another exception; whatever loads builds a table."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings, run

from meshgate.config.load import LoadResult, load_text
from meshgate.config.model import Workload
from meshgate.config.networking.re2 import RE2Error, translate
from meshgate.routing.match import Request
from meshgate.routing.table import build_routing_table

SCALARS = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=12)
FIELDS = st.sampled_from(
    ["selector", "servers", "port", "number", "name", "protocol", "hosts", "tls", "mode", "credentialName",
     "httpsRedirect", "gateways", "http", "match", "uri", "exact", "prefix", "regex", "headers", "withoutHeaders",
     "queryParams", "method", "authority", "route", "destination", "host", "weight", "redirect", "directResponse",
     "status", "body", "rewrite", "uriRegexRewrite", "timeout", "request", "set", "add", "remove", "ports",
     "resolution", "endpoints", "address", "labels", "targetPort", "exportTo", "data", "type", "x"]
)  # fmt: skip
VALUES = st.recursive(
    SCALARS
    | st.sampled_from(["*", "/", "/a", "a.example.com", "HTTP", "HTTPS", "SIMPLE", "STATIC", "gw", "[a-z]+"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FIELDS, inner, max_size=4),
    max_leaves=30,
)
DOCS = st.fixed_dictionaries(
    {
        "apiVersion": st.sampled_from(["networking.istio.io/v1", "networking.istio.io/v1alpha3", "v1"]),
        "kind": st.sampled_from(["Gateway", "VirtualService", "ServiceEntry", "Secret"]),
        "metadata": st.fixed_dictionaries({"name": st.sampled_from(["gw", "a", "cert"]) | SCALARS}),
        "spec": VALUES,
    },
    optional={"data": VALUES, "type": SCALARS},
)


@fuzz_settings(150)
@given(st.lists(DOCS, min_size=1, max_size=4))
def _load(docs: list[dict[str, object]]) -> None:
    result = load_text(yaml.safe_dump_all(docs), "fuzz.yaml")
    assert isinstance(result, LoadResult)
    assert all(p.file == "fuzz.yaml" and p.line >= 1 for p in result.problems)
    build = build_routing_table(result.resources, Workload("default", {}))
    if build.table is not None:
        for listener in build.table.listeners:
            build.table.route(Request(listener.port, "a.example.com", "/a?b=c", headers=[("x", "y")]))


def test_loader_and_table_never_raise() -> None:
    run(_load)


@fuzz_settings(300)
@given(st.text(alphabet=st.sampled_from(list("ab()[]{}|*+?^$.\\-:=<>!,PQEdswz0123456789ipU")), max_size=16))
def _regex(pattern: str) -> None:
    try:
        translate(pattern)
    except RE2Error:
        pass


def test_re2_translation_never_raises_anything_else() -> None:
    run(_regex)
