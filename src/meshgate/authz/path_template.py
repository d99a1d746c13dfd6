"""Istio path templates `{*}` / `{**}` compiled to Envoy's URI-template regex (docs/istio-semantics.md §5.4).

istio/istio:pilot/pkg/security/authz/matcher/template.go turns `{*}` into `*` and `{**}` into `**`;
Envoy parses that (envoyproxy/envoy:source/extensions/path/uri_template_lib/uri_template_internal.cc
parseURLPatternSyntax) and matches the regex it builds (toRegexPattern) in full against the path
without query. Each `/`-separated segment is `*` (one segment: `[pchar]+`), `**` (`[pchar/]*`, must be
the last glob) or a literal (`[pchar]+`, with `$ ( ) + .` escaped); a trailing `/` is an empty
literal; an operator may carry a literal suffix in the last segment (`/{*}.txt`). pchar here is Envoy's
kLiteral: `a-zA-Z0-9-._~%!$&'()+,;:@` (no `=` and no `*`). Anything else is a template Envoy rejects:
`Unparsable`. Named variables and `{}` are rejected by istiod validation, and so here.
"""

from __future__ import annotations

import re

from meshgate.authz.match import StrMatch, Unparsable

MATCH_ONE_TEMPLATE = "{*}"  # istio/istio:pkg/config/security/security.go MatchOneTemplate
MATCH_ANY_TEMPLATE = "{**}"  # ... MatchAnyTemplate

_PCHAR = r"a-zA-Z0-9\-._~%!$&'()+,;:@"
_PATH_GLOB = f"[{_PCHAR}]+"  # Operator::KPathGlob
_TEXT_GLOB = f"[{_PCHAR}/]*"  # Operator::KTextGlob
_LITERAL = re.compile(f"[{_PCHAR}]+")
_PRINTABLE = re.compile(r"/[\x21-\x7e]*")  # "^/[[:graph:]]*$"
_REGEX_ESCAPES = str.maketrans({"$": r"\$", "(": r"\(", ")": r"\)", "+": r"\+", ".": r"\."})


def is_path_template(path: str) -> bool:
    """security.go ContainsPathTemplate / IsPathTemplate."""
    return MATCH_ONE_TEMPLATE in path or MATCH_ANY_TEMPLATE in path


def template_regex(path: str) -> str:
    """The regex Envoy builds for an Istio template path; raises Unparsable where Envoy would reject it."""
    pattern = path.replace(MATCH_ANY_TEMPLATE, "**").replace(MATCH_ONE_TEMPLATE, "*")
    if not _PRINTABLE.fullmatch(pattern):
        raise Unparsable(f"invalid path template {path!r}")
    parts: list[str] = []
    seen_text_glob = False
    rest = pattern[1:]
    suffix = ""
    while rest:
        if rest.startswith("*"):
            if seen_text_glob:
                raise Unparsable(f"glob after text glob in {path!r}")
            glob_len = 2 if rest.startswith("**") else 1
            seen_text_glob = glob_len == 2
            parts.append(_TEXT_GLOB if seen_text_glob else _PATH_GLOB)
            rest = rest[glob_len:]
        else:
            literal = rest.split("/", 1)[0]
            _check_literal(literal, path)
            parts.append(literal.translate(_REGEX_ESCAPES))
            rest = rest[len(literal) :]
        if not rest:
            break
        if rest == "/":
            parts.append("")
            break
        if rest.startswith("/"):
            rest = rest[1:]
            continue
        _check_literal(rest, path)  # a suffix after an operator, the whole remainder
        suffix = rest.translate(_REGEX_ESCAPES)
        break
    return "/" + "/".join(parts) + suffix


def _check_literal(literal: str, path: str) -> None:
    if not _LITERAL.fullmatch(literal):
        raise Unparsable(f"invalid literal {literal!r} in path template {path!r}")


def path_template_matcher(path: str) -> StrMatch:
    """Full-match the template's regex against a path without query/fragment."""
    compiled = re.compile(template_regex(path))
    return lambda value: compiled.fullmatch(value) is not None
