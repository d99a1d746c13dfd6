"""Which RequestAuthentications and AuthorizationPolicies apply to one workload, in Istio's order.

Sources: istio/istio pilot/pkg/model/authentication.go (getConfigsForWorkload),
pilot/pkg/model/authorization.go, pilot/pkg/model/policyattachment.go. Candidates come from the
root namespace, then the workload's namespace, each in creation order; a policy with targetRef(s)
is for Gateway-API workloads only and is ignored here; a selector must be a subset of the labels.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from meshgate.config.model import AuthorizationPolicy, RequestAuthentication, ResourceSet, Workload

_P = TypeVar("_P", RequestAuthentication, AuthorizationPolicy)


def selector_matches(selector: dict[str, str] | None, labels: dict[str, str]) -> bool:
    """No selector or empty matchLabels selects every workload; otherwise every label must match."""
    return not selector or all(labels.get(key) == value for key, value in selector.items())


def _applicable(policies: Iterable[_P], workload: Workload) -> tuple[_P, ...]:
    ordered = sorted(policies, key=lambda p: p.creation_index)
    namespaces = [workload.root_namespace]
    if workload.namespace != workload.root_namespace:
        namespaces.append(workload.namespace)
    return tuple(
        p
        for ns in namespaces
        for p in ordered
        if p.namespace == ns and not p.target_refs and selector_matches(p.selector, workload.labels)
    )


def select_for_workload(
    resources: ResourceSet, workload: Workload
) -> tuple[tuple[RequestAuthentication, ...], tuple[AuthorizationPolicy, ...]]:
    return (
        _applicable(resources.request_authentications, workload),
        _applicable(resources.authorization_policies, workload),
    )
