"""One YAML document → Istio resources (validated), skipped-kind notes, and problems.

Handles the Kubernetes envelope (apiVersion, kind, metadata, `kind: List`), decodes the spec
strictly (schema.py), runs istiod's validation (validate*.py) on what decoding accepted — every problem
of a resource is reported, not only the first kind — and builds the frozen model only for a resource
without errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meshgate.config.build import build_authorization_policy, build_request_authentication
from meshgate.config.govalues import parse_bool, parse_bool_error
from meshgate.config.model import (
    DRY_RUN_ANNOTATION,
    Action,
    AuthorizationPolicy,
    RequestAuthentication,
    SourceRef,
)
from meshgate.config.networking.build import NetworkingResource, parse_networking
from meshgate.config.networking.codecs import SECRET_ENVELOPE, parse_secret
from meshgate.config.networking.model import TlsSecret
from meshgate.config.networking.schema import NETWORKING_KINDS
from meshgate.config.report import Reporter
from meshgate.config.schema import (
    AUTHORIZATION_POLICY,
    REQUEST_AUTHENTICATION,
    STRING,
    STRMAP,
    Decoder,
    Message,
    Path,
)
from meshgate.config.validation.authn import validate_request_authentication
from meshgate.config.validation.authz import validate_authorization_policy
from meshgate.config.yamlnodes import YMap, YNode, YScalar, YSeq, type_name
from meshgate.errors import Problem

API_GROUP = "security.istio.io"
API_VERSIONS = frozenset({f"{API_GROUP}/v1", f"{API_GROUP}/v1beta1"})
KINDS: dict[str, Message] = {
    "RequestAuthentication": REQUEST_AUTHENTICATION,
    "AuthorizationPolicy": AUTHORIZATION_POLICY,
}
# networking.istio.io kinds and core/v1 Secret: decoded, validated and built by config/networking/ (build.py,
# codecs.py)
NETWORKING_VERSIONS = frozenset(f"networking.istio.io/{v}" for v in ("v1", "v1beta1", "v1alpha3"))
KIND_VERSIONS: dict[str, frozenset[str]] = {
    **{kind: API_VERSIONS for kind in KINDS},
    **{kind: NETWORKING_VERSIONS for kind in NETWORKING_KINDS},
    "Secret": frozenset({"v1"}),
}
_ENVELOPE = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
# ObjectMeta fields other than the four meshgate reads: accepted, not interpreted.
_OTHER_METADATA = frozenset({
    "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "generateName",
    "deletionGracePeriodSeconds", "ownerReferences", "finalizers", "managedFields", "selfLink",
})  # fmt: skip
_METADATA = Message(
    "ObjectMeta", {"name": STRING, "namespace": STRING, "labels": STRMAP, "annotations": STRMAP}
)

Resource = RequestAuthentication | AuthorizationPolicy | NetworkingResource | TlsSecret


@dataclass
class DocResult:
    resources: list[Resource] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rejected: set[tuple[str, str, str]] = field(default_factory=set)  # (kind, namespace, name) not built


def parse_document(node: YNode, file: str, result: DocResult, next_index: int = 0) -> int:
    """Adds the document's resources/notes/problems to `result`; returns the next creation index."""
    if not isinstance(node, YMap):
        if not (isinstance(node, YScalar) and node.value is None):  # an empty document is fine
            msg = f"a resource must be a mapping (Kubernetes object), got {type_name(node)}"
            result.problems.append(Problem(file, node.line, msg))
        return next_index
    kind, api_version = _text(node, "kind"), _text(node, "apiVersion")
    if kind == "List" or (kind.endswith("List") and node.get("items") is not None):
        return _parse_list(node, file, result, next_index)
    if api_version not in KIND_VERSIONS.get(kind, ()):
        if not kind or not api_version:
            missing = "kind" if not kind else "apiVersion"
            result.problems.append(Problem(file, node.line, f'missing required field "{missing}"'))
        else:
            result.skipped.append(f"{file}:{node.line}: skipped {kind} ({api_version})")
        return next_index
    rep = Reporter(file, {(): node.line}, node.line)
    resource = _parse_resource(node, kind, rep, next_index)
    result.problems.extend(rep.sorted_problems())
    if resource is not None:
        result.resources.append(resource)
    else:  # so that references to it are not also reported as dangling (config/networking/crosscheck.py)
        meta = node.get("metadata")
        meta_map = meta.value if meta is not None and isinstance(meta.value, YMap) else YMap((), node.line)
        result.rejected.add((kind, _text(meta_map, "namespace") or "default", _text(meta_map, "name")))
    return next_index + 1


def _text(node: YMap, key: str) -> str:
    entry = node.get(key)
    if entry is None or not isinstance(entry.value, YScalar) or not isinstance(entry.value.value, str):
        return ""
    return entry.value.value


def _parse_list(node: YMap, file: str, result: DocResult, index: int) -> int:
    entry = node.get("items")
    if entry is None or (isinstance(entry.value, YScalar) and entry.value.value is None):
        return index
    if not isinstance(entry.value, YSeq):
        msg = f"invalid type for items: expected array, got {type_name(entry.value)}"
        result.problems.append(Problem(file, entry.key_line, msg))
        return index
    for item in entry.value.items:
        index = parse_document(item, file, result, index)
    return index


def _parse_resource(node: YMap, kind: str, rep: Reporter, index: int) -> Resource | None:
    """Every problem of the resource: schema first, then istiod's checks on what the schema accepted."""
    decoder = Decoder(rep.schema, rep.lines)
    decoder.check_keys(node, ())
    envelope = (_ENVELOPE - {"spec"}) | SECRET_ENVELOPE if kind == "Secret" else _ENVELOPE
    for entry in node.entries:
        rep.lines[(entry.key,)] = entry.key_line
        if entry.key not in envelope:
            rep.schema((entry.key,), f'unknown field "{entry.key}" in {kind}')
    name, namespace, annotations = _metadata(node, rep, decoder)
    at = (SourceRef(rep.file, node.line), index)
    if kind == "Secret":
        return parse_secret(node, (name, namespace), decoder, rep, at)
    spec_entry = node.get("spec")
    if kind in NETWORKING_KINDS:
        spec_node = spec_entry.value if spec_entry is not None else None
        return parse_networking(kind, (name, namespace), spec_node, decoder, rep, at)
    spec = decoder.message(spec_entry.value, KINDS[kind], ("spec",)) if spec_entry else None
    spec = spec or {}
    source = SourceRef(rep.file, node.line)
    if kind == "RequestAuthentication":
        if DRY_RUN_ANNOTATION in annotations:  # validation.go checkDryRunAnnotation
            msg = f"{namespace}/{name} has unsupported annotation {DRY_RUN_ANNOTATION}"
            rep.error(("metadata", "annotations", DRY_RUN_ANNOTATION), msg + ", please remove the annotation")
        validate_request_authentication(rep, spec)
        return None if rep.has_errors else build_request_authentication(name, namespace, spec, source, index)
    rep.prefix = f"invalid policy {name}.{namespace}:"
    action = _action(rep, spec)
    dry_run = _dry_run(rep, annotations, action, name, namespace) if action is not None else False
    validate_authorization_policy(rep, spec, action)
    if rep.has_errors or action is None:
        return None
    return build_authorization_policy(name, namespace, spec, action, dry_run, source, index)


def _metadata(node: YMap, rep: Reporter, decoder: Decoder) -> tuple[str, str, dict[str, str]]:
    """(name, namespace, annotations); a missing name is reported and the spec still validated."""
    entry = node.get("metadata")
    if entry is None or not isinstance(entry.value, YMap):
        rep.error(("metadata",), 'missing required field "metadata.name"')
        return "", "default", {}
    known = YMap(tuple(e for e in entry.value.entries if e.key not in _OTHER_METADATA), entry.value.line)
    meta = decoder.message(known, _METADATA, ("metadata",)) or {}
    name = meta.get("name", "")
    if not name:
        rep.error(("metadata", "name"), 'missing required field "metadata.name"')
    return name, meta.get("namespace") or "default", meta.get("annotations") or {}


def _action(rep: Reporter, spec: dict[str, Any]) -> Action | None:
    """The action, or None when it is not one of the CRD's enum (then action-dependent checks wait)."""
    text = spec.get("action", "ALLOW")
    try:
        return Action(text)
    except ValueError:
        choices = ", ".join(a.value for a in Action)
        where: Path = ("spec", "action")
        if where not in rep.refused:  # a mistyped action (`action: 1`) is already one problem
            rep.schema(where, f'invalid value for spec.action: "{text}" (expected one of {choices})')
        return None


def _dry_run(rep: Reporter, annotations: dict[str, str], action: Action, name: str, ns: str) -> bool:
    """`istio.io/dry-run`, parsed like strconv.ParseBool; unparsable means enforced (builder.go isDryRun)."""
    text = annotations.get(DRY_RUN_ANNOTATION)
    if text is None:
        return False
    where: Path = ("metadata", "annotations", DRY_RUN_ANNOTATION)
    if action not in (Action.ALLOW, Action.DENY):
        msg = f"the annotation {DRY_RUN_ANNOTATION} currently only supports action ALLOW/DENY, found action"
        rep.error(where, f"{msg} {action.value} in {ns}/{name}")
        return False
    value = parse_bool(text)
    if value is None:
        msg = f"{ns}/{name} has annotation {DRY_RUN_ANNOTATION} with invalid value ({text}): "
        rep.warn(where, msg + parse_bool_error(text))
        return False
    return value
