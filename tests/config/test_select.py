"""Which policies apply to a workload: root namespace first, then the workload's, in creation order.

Sources: istio/istio pilot/pkg/model/authentication.go (getConfigsForWorkload),
pilot/pkg/model/authorization.go, pilot/pkg/model/policyattachment.go; docs/istio-semantics.md §2.
"""

from __future__ import annotations

import pytest

from meshgate.config.model import AuthorizationPolicy, RequestAuthentication, ResourceSet, TargetRef, Workload
from meshgate.config.select import select_for_workload

GATEWAY = TargetRef(kind="Gateway", name="gw", group="gateway.networking.k8s.io")


def ap(
    name: str, ns: str, index: int, selector: dict[str, str] | None = None, refs: bool = False
) -> AuthorizationPolicy:
    return AuthorizationPolicy(
        name, ns, selector=selector, target_refs=(GATEWAY,) if refs else (), creation_index=index
    )


def ra(name: str, ns: str, index: int, selector: dict[str, str] | None = None) -> RequestAuthentication:
    return RequestAuthentication(name, ns, selector=selector, creation_index=index)


POLICIES = (
    ap("ns-late", "foo", 5),
    ap("root-all", "istio-system", 4),
    ap("ns-all", "foo", 1),
    ap("other-ns", "bar", 0),
    ap("root-selected", "istio-system", 2, {"app": "web"}),
    ap("ns-selected-miss", "foo", 3, {"app": "web", "version": "v2"}),
    ap("ns-empty-selector", "foo", 6, {}),
    ap("targeted", "foo", 7, refs=True),
)


@pytest.mark.parametrize(
    ("workload", "expected"),
    [
        pytest.param(
            Workload("foo", {"app": "web", "version": "v1"}),
            ["root-selected", "root-all", "ns-all", "ns-late", "ns-empty-selector"],
            id="root-first-then-namespace-by-creation-targetRef-ignored",
        ),
        pytest.param(
            Workload("foo", {"app": "web", "version": "v2"}),
            ["root-selected", "root-all", "ns-all", "ns-selected-miss", "ns-late", "ns-empty-selector"],
            id="selector-is-subset-of-labels",
        ),
        pytest.param(Workload("baz", {}), ["root-all"], id="root-namespace-applies-mesh-wide"),
        pytest.param(
            Workload("istio-system", {"app": "web"}),
            ["root-selected", "root-all"],
            id="workload-in-root-namespace",
        ),
        pytest.param(
            Workload("bar", {}, root_namespace="foo"),
            ["ns-all", "ns-late", "ns-empty-selector", "other-ns"],
            id="custom-root-namespace",
        ),
    ],
)
def test_authorization_policy_selection(workload: Workload, expected: list[str]) -> None:
    _, policies = select_for_workload(ResourceSet(authorization_policies=POLICIES), workload)
    assert [p.name for p in policies] == expected


def test_request_authentications_select_the_same_way() -> None:
    resources = ResourceSet(
        request_authentications=(
            ra("ns", "foo", 0),
            ra("root-gw", "istio-system", 1, {"istio": "ingressgateway"}),
            ra("ns-other-app", "foo", 2, {"app": "api"}),
        )
    )
    ras, aps = select_for_workload(resources, Workload("foo", {"istio": "ingressgateway"}))
    assert [r.name for r in ras] == ["root-gw", "ns"]
    assert aps == ()
