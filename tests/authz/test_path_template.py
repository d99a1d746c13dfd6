"""Path templates `{*}` / `{**}` (docs/istio-semantics.md §5.4).

Vectors: istio/istio:tests/integration/security/authz_test.go TestAuthz_PathTemplating; the regex and
rejections follow envoyproxy/envoy:source/extensions/path/uri_template_lib/uri_template_internal.cc.
"""

from __future__ import annotations

import pytest

from meshgate.authz.match import Unparsable
from meshgate.authz.path_template import is_path_template, path_template_matcher, template_regex

ISTIO_IT = "istio/istio:tests/integration/security/authz_test.go TestAuthz_PathTemplating"


@pytest.mark.parametrize(
    ("template", "path", "matches"),
    [
        ("/allow/admin/{**}", "/allow/admin/", True),
        ("/allow/admin/{**}", "/allow/admin/temp", True),
        ("/allow/admin/{**}", "/allow/admin/foo/temp.txt", True),
        ("/allow/admin/{**}", "/allow/admin", False),
        ("/foo/{*}/bar/{**}", "/foo/buzz/bar/bat.txt", True),
        ("/foo/{*}/bar/{**}", "/foo/buzz/bar/bat/fuzz.txt", True),
        ("/foo/{*}/bar/{**}", "/foo//bar/bat.txt", False),
        ("/store/{**}/cart", "/store//cart", True),
        ("/store/{**}/cart", "/store/foo/bar/cart", True),
        ("/store/{**}/cart", "/store/cart", False),
        # Envoy regex, not the API doc example (§3.6): a trailing `/` in the template is required.
        ("/foo/{**}/", "/foo/bar/baz.txt", False),
        ("/foo/{**}/", "/foo/bar/baz/", True),
        ("/{*}", "/a=b", False),  # `=` is not in Envoy's segment class
        ("/{*}", "/a*b", False),
        ("/{*}", "/a%2Fb", True),
        ("/{*}.txt", "/notes.txt", True),  # operator with a literal suffix
        ("/{*}.txt", "/notesXtxt", False),  # `.` is escaped
        ("/a+b/{*}", "/a+b/c", True),
        ("/a+b/{*}", "/aab/c", False),
        ("/{*}*", "/a/b", True),  # template.go replaces `{*}` by `*`: Envoy sees `/**`
    ],
    ids=lambda v: repr(v),
)
def test_template_matches_like_envoy(template: str, path: str, matches: bool) -> None:
    """Rows 1-10: ISTIO_IT; the rest pin Envoy's toRegexPattern."""
    assert path_template_matcher(template)(path) is matches


def test_query_is_not_part_of_the_matched_path() -> None:
    """ISTIO_IT: `/allow/admin?param=value` is denied; RBAC matches the path without query (strip_query)."""
    assert path_template_matcher("/allow/admin/{**}")("/allow/admin") is False


@pytest.mark.parametrize(
    "template",
    [
        "/a/{*}/{**}/{*}",  # glob after text glob
        "/a/{**}/{**}",
        "/a=b/{*}",  # `=` literal: Envoy rejects (Istio's validation allows it)
        "/a//{*}",  # empty segment
        "/{*}.txt/b",  # suffix followed by more path
        "/a b/{*}",  # not [[:graph:]]
        "/{name}/{*}",  # named variable
    ],
)
def test_templates_envoy_rejects_are_unparsable(template: str) -> None:
    with pytest.raises(Unparsable):
        template_regex(template)


@pytest.mark.parametrize(
    ("path", "is_template"),
    [("/a/{*}", True), ("/a/{**}", True), ("/a/*", False), ("/a/{x}", False), ("/a*b", False)],
)
def test_is_path_template(path: str, is_template: bool) -> None:
    """istio/istio:pkg/config/security/security.go IsPathTemplate."""
    assert is_path_template(path) is is_template
