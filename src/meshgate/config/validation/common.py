"""Checks both kinds share: workload selector, targetRef(s), and Kubernetes CRD schema limits.

istiod texts: istio/istio pkg/config/validation/validation.go (validateOneOfSelectorType,
validateWorkloadSelector, validatePolicyTargetReference). CRD limits and messages:
istio/api kubernetes/customresourcedefinitions.gen.yaml, worded as the Kubernetes API server words
schema violations (`Too many`, `Too long`, `should be at least 1 chars long`).
"""

from __future__ import annotations

from typing import Any

from meshgate.config.govalues import go_quote
from meshgate.config.report import Reporter
from meshgate.config.schema import Path, format_path

MAX_TARGET_REFS = 16  # CRD maxItems
MAX_SELECTOR_LABELS = 4096  # CRD maxProperties
MAX_LABEL_VALUE = 63  # CRD maxLength

# validation.go allowedTargetRefs, printed with %v of []config.GroupVersionKind (String = group/version/kind)
_ALLOWED_TARGET_REFS = (
    ("core", "Service"),
    ("networking.istio.io", "ServiceEntry"),
    ("gateway.networking.k8s.io", "Gateway"),
    ("gateway.networking.k8s.io", "GatewayClass"),
)
ALLOWED_TARGET_REFS_TEXT = (
    "[core/v1/Service networking.istio.io/v1/ServiceEntry "
    "gateway.networking.k8s.io/v1/Gateway gateway.networking.k8s.io/v1/GatewayClass]"
)
ONE_OF_SELECTOR = "only one of targetRefs or workloadSelector can be set"
SELECTOR_WITHOUT_LABELS = "workload selector specified without labels"


def too_many(rep: Reporter, path: Path, items: list[Any] | None, limit: int) -> None:
    if items is not None and len(items) > limit:
        rep.error(path, f"{format_path(path)}: Too many: {len(items)}: must have at most {limit} items")


def too_long(rep: Reporter, path: Path, value: str, limit: int) -> None:
    if len(value.encode()) > limit:
        rep.error(path, f"{format_path(path)}: Too long: may not be more than {limit} bytes")


def min_length_each(rep: Reporter, path: Path, values: list[str] | None) -> None:
    """CRD `minLength: 1` on list items."""
    for i, value in enumerate(values or ()):
        if not value:
            rep.error((*path, i), f"{format_path((*path, i))} in body should be at least 1 chars long")


def validate_selector_and_refs(rep: Reporter, spec: dict[str, Any]) -> None:
    """validateOneOfSelectorType + validateWorkloadSelector + validatePolicyTargetReference(s)."""
    selector = spec.get("selector")
    target_ref = spec.get("targetRef")
    target_refs = spec.get("targetRefs") or []
    if (selector is not None) + (target_ref is not None) + (len(target_refs) > 0) > 1:
        where = ("spec", "targetRefs") if target_refs else ("spec", "targetRef")
        rep.invalid(where, ONE_OF_SELECTOR, about=())  # fires on what is present
    if selector is not None:
        _validate_selector(rep, selector.get("matchLabels") or {})
    if target_ref is not None:
        _validate_target_ref(rep, ("spec", "targetRef"), target_ref)
    too_many(rep, ("spec", "targetRefs"), target_refs, MAX_TARGET_REFS)
    for i, ref in enumerate(target_refs):
        if ref is not None:  # a nil reference is skipped by istiod
            _validate_target_ref(rep, ("spec", "targetRefs", i), ref)


def _validate_selector(rep: Reporter, labels: dict[str, str]) -> None:
    base: Path = ("spec", "selector", "matchLabels")
    for key, value in labels.items():
        pair = go_quote(f"{key}={value}")
        if key == "":
            rep.invalid((*base, key), f"empty key is not supported in selector: {pair}")
        if "*" in key or "*" in value:
            rep.invalid((*base, key), f"wildcard is not supported in selector: {pair}")
        too_long(rep, (*base, key), value, MAX_LABEL_VALUE)
    if len(labels) > MAX_SELECTOR_LABELS:
        rep.error(base, f"{format_path(base)}: Too many: {len(labels)}: must have at most 4096 items")
    if not labels:
        rep.warn(("spec", "selector"), SELECTOR_WITHOUT_LABELS)


def _validate_target_ref(rep: Reporter, path: Path, ref: dict[str, Any]) -> None:
    if not ref.get("name"):
        rep.invalid(path, "targetRef name must be set")
    if ref.get("namespace"):
        msg = "targetRef namespace must not be set; cross namespace referencing is not supported"
        rep.invalid((*path, "namespace"), msg)
    group, kind = ref.get("group", ""), ref.get("kind", "")
    if (group or "core", kind) not in _ALLOWED_TARGET_REFS:
        rep.invalid(path, f"targetRef must be to one of {ALLOWED_TARGET_REFS_TEXT} but was {group}/{kind}")
