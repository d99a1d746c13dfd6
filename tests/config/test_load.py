"""Loading files, directories (incl. ConfigMap mounts), List/JSON/multi-doc, and `file:line` problems."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from meshgate.config.load import load_paths, load_resources, load_text
from meshgate.config.model import Action, Source
from meshgate.errors import ConfigError

DATA = Path(__file__).parent / "data"
SEED = Path(__file__).resolve().parents[2] / "examples" / "seed"
INGRESS_DENY = Path(__file__).resolve().parents[2] / "examples" / "ingress-deny"
RA_DOC = """\
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: {name}
spec:
  jwtRules:
  - issuer: {name}@example.com
    jwksUri: https://example.com/jwks.json
"""


def expectations(path: Path) -> list[tuple[int, str]]:
    """`# expect: msg` comments → (line, problem text as printed after `file:line: `)."""
    found: list[tuple[int, str]] = []
    for number, text in enumerate(path.read_text().splitlines(), 1):
        for message in re.findall(r"# expect: (.*?)(?= # expect: |$)", text):
            found.append((number, message.strip()))
    return found


def test_broken_file_reports_every_problem_at_its_line() -> None:
    path = DATA / "broken.yaml"
    result = load_paths([str(path)])
    printed = [(p.line, str(p).split(": ", 1)[1]) for p in result.problems]
    assert printed == expectations(path)
    assert {p.file for p in result.problems} == {str(path)}
    assert not result.ok
    assert [p.name for p in result.resources.authorization_policies] == ["shadow"]  # valid, with warnings
    assert result.resources.skipped == (f"{path}:36: skipped Deployment (apps/v1)",)


def test_seed_example_is_the_seed() -> None:
    """examples/seed holds exactly the seed: `frontend` + `require-jwt`, v1beta1."""
    resources = load_resources([str(SEED)])
    (ra,) = resources.request_authentications
    (ap,) = resources.authorization_policies
    assert (ra.name, ra.namespace, ra.selector) == ("frontend", "default", {"app": "frontend"})
    assert [(rule.issuer, rule.jwks_uri) for rule in ra.jwt_rules] == [
        (
            "testing@secure.istio.io",
            "https://raw.githubusercontent.com/istio/istio/release-1.5/security/tools/jwt/samples/jwks.json",
        )
    ]
    assert (ap.name, ap.namespace, ap.action) == ("require-jwt", "default", Action.ALLOW)
    assert ap.selector == {"app": "frontend"}
    principal = "testing@secure.istio.io/testing@secure.istio.io"
    assert ap.rules is not None and len(ap.rules) == 1
    assert ap.rules[0].from_ == (Source(request_principals=(principal,)),)
    assert ap.rules[0].to is None and ap.rules[0].when is None
    for path in SEED.iterdir():
        if path.name != "tests.yaml":  # meshgate test's file for the seed (kind PolicyTest, skipped by loads)
            assert path.read_text().startswith("apiVersion: security.istio.io/v1beta1\n"), path


def test_ingress_deny_example_loads_as_istio_docs_show_it() -> None:
    # istio.io "JWT authentication on ingress gateway" / authz-jwt task: jwt-example + frontend-ingress
    resources = load_resources([str(INGRESS_DENY)])
    (ra,) = resources.request_authentications
    (ap,) = resources.authorization_policies
    assert (ra.name, ra.namespace, ra.selector) == (
        "jwt-example",
        "istio-system",
        {"istio": "ingressgateway"},
    )
    assert ra.jwt_rules[0].issuer == "testing@secure.istio.io"
    assert ra.jwt_rules[0].jwks_uri == (
        "https://raw.githubusercontent.com/istio/istio/master/security/tools/jwt/samples/jwks.json"
    )
    assert (ap.name, ap.namespace, ap.action) == ("frontend-ingress", "istio-system", Action.DENY)
    assert ap.selector == {"istio": "ingressgateway"}
    assert ap.rules is not None and ap.rules[0].from_ == (Source(not_request_principals=("*",)),)
    assert ap.rules[0].to is None and ap.rules[0].when is None


def test_kind_list_with_items_and_proto_names() -> None:
    result = load_paths([str(DATA / "list.yaml")])
    assert result.problems == ()
    (ra,) = result.resources.request_authentications
    (ap,) = result.resources.authorization_policies
    assert ra.jwt_rules[0].jwks_uri == "https://example.com/jwks.json"  # from `jwks_uri`
    assert ra.jwt_rules[0].timeout_s == 1.5
    assert ap.dry_run is True
    assert ap.target_refs[0].kind == "Gateway"
    assert result.resources.skipped == (f"{DATA / 'list.yaml'}:17: skipped Deployment (apps/v1)",)


def test_json_file_with_tabs_defaults_namespace() -> None:
    (ap,) = load_resources([str(DATA / "policy.json")]).authorization_policies
    assert (ap.name, ap.namespace, ap.action) == ("from-json", "default", Action.AUDIT)
    assert ap.rules is not None and ap.rules[0].to is not None and ap.rules[0].to[0].ports == ("8080",)


def test_multi_document_order_is_creation_order() -> None:
    text = "---\n".join(RA_DOC.format(name=n) for n in ("b", "a", "c")) + "---\n# only a comment\n"
    result = load_text(text)
    assert [(r.name, r.creation_index) for r in result.resources.request_authentications] == [
        ("b", 0),
        ("a", 1),
        ("c", 2),
    ]
    assert [r.source.line for r in result.resources.request_authentications] == [1, 10, 19]


def test_configmap_mount_loads_each_file_once(tmp_path: Path) -> None:
    # kubelet AtomicWriter layout: ..2026_xx/ holds the files, ..data -> it, each key -> ..data/key
    stamped = tmp_path / "..2026_11_29_09_00_00.123456789"
    (stamped / "sub").mkdir(parents=True)
    (stamped / "ra.yaml").write_text(RA_DOC.format(name="one"))
    (stamped / "notes.txt").write_text("not config")
    os.symlink(stamped.name, tmp_path / "..data")
    os.symlink("..data/ra.yaml", tmp_path / "ra.yaml")
    os.symlink("..data/notes.txt", tmp_path / "notes.txt")
    result = load_paths([str(tmp_path)])
    assert result.problems == ()
    assert [r.source.file for r in result.resources.request_authentications] == [str(tmp_path / "ra.yaml")]


def test_configmap_data_dir_alone_is_followed(tmp_path: Path) -> None:
    stamped = tmp_path / "..2026_11_29"
    stamped.mkdir()
    (stamped / "ra.yml").write_text(RA_DOC.format(name="only"))
    os.symlink(stamped.name, tmp_path / "..data")
    names = [r.name for r in load_resources([str(tmp_path)]).request_authentications]
    assert names == ["only"]


def test_directory_is_recursive_and_sorted(tmp_path: Path) -> None:
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "a.yaml").write_text(RA_DOC.format(name="nested"))
    (tmp_path / "b.json").write_text(RA_DOC.format(name="second"))  # YAML is accepted in .json too
    (tmp_path / "a.yml").write_text(RA_DOC.format(name="first"))
    (tmp_path / ".hidden.yaml").write_text("not: loaded")
    names = [r.name for r in load_resources([str(tmp_path)]).request_authentications]
    assert names == ["first", "second", "nested"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        pytest.param("kind: [\n", 2, "malformed YAML/JSON:", id="syntax-error-line"),
        pytest.param(
            "- a\n", 1, "a resource must be a mapping (Kubernetes object), got array", id="not-mapping"
        ),
        pytest.param(
            "just text\n", 1, "a resource must be a mapping (Kubernetes object), got string", id="scalar"
        ),
        pytest.param("kind: Foo\n", 1, 'missing required field "apiVersion"', id="no-apiVersion"),
        pytest.param(
            "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  namespace: x\n",
            3,
            'missing required field "metadata.name"',
            id="no-name",
        ),
        pytest.param(
            "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: x\nspek: {}\n",
            5,
            'unknown field "spek" in AuthorizationPolicy',
            id="unknown-top-level",
        ),
        pytest.param(
            RA_DOC.format(name="x").replace(
                "metadata:", "metadata:\n  annotations: {istio.io/dry-run: 'true'}"
            ),
            4,
            "default/x has unsupported annotation istio.io/dry-run, please remove the annotation",
            id="dry-run-on-request-authentication",
        ),
        pytest.param(
            "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: x\n"
            "  annotations:\n    istio.io/dry-run: 'true'\nspec:\n  action: AUDIT\n  rules: [{}]\n",
            6,
            "the annotation istio.io/dry-run currently only supports action ALLOW/DENY, "
            "found action AUDIT in default/x",
            id="dry-run-only-allow-deny",
        ),
        pytest.param(
            RA_DOC.format(name="x") + "    issuer: again\n",
            9,
            'duplicate field "issuer"',
            id="duplicate-key",
        ),
    ],
)
def test_document_problems(text: str, line: int, message: str) -> None:
    (problem,) = load_text(text, "f.yaml").problems
    assert (problem.file, problem.line) == ("f.yaml", line)
    assert problem.message.startswith(message) if message.endswith(":") else problem.message == message


@pytest.mark.parametrize(
    ("value", "dry_run"),
    [("true", True), ("1", True), ("T", True), ("False", False), ("0", False), ("f", False)],
)
def test_dry_run_annotation_is_strconv_parse_bool(value: str, dry_run: bool) -> None:
    text = (
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: x\n"
        f"  annotations:\n    istio.io/dry-run: '{value}'\nspec:\n  rules: [{{}}]\n"
    )
    result = load_text(text)
    assert result.problems == ()
    assert result.resources.authorization_policies[0].dry_run is dry_run


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("networking.istio.io/v1", "DestinationRule"),  # VirtualService, Gateway, ServiceEntry: routing/
        ("gateway.networking.k8s.io/v1", "Gateway"),  # the Kubernetes Gateway API's, not Istio's
        ("security.istio.io/v1", "PeerAuthentication"),
        ("security.istio.io/v1alpha1", "AuthorizationPolicy"),
        ("v1", "ConfigMap"),
    ],
)
def test_other_kinds_are_skipped_not_errors(api_version: str, kind: str) -> None:
    result = load_text(f"apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: x\n", "k.yaml")
    assert result.ok and result.problems == ()
    assert result.resources.skipped == (f"k.yaml:1: skipped {kind} ({api_version})",)


def test_duplicate_resource_is_an_error() -> None:
    result = load_text(RA_DOC.format(name="x") + "---\n" + RA_DOC.format(name="x"), "d.yaml")
    assert [str(p) for p in result.problems] == [
        "d.yaml:10: duplicate RequestAuthentication default/x (first defined at d.yaml:1)"
    ]
    assert len(result.resources.request_authentications) == 1


def test_missing_and_unreadable_paths_are_problems(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    binary = tmp_path / "bad.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    result = load_paths([missing, str(binary)])
    assert [(p.file, p.line) for p in result.problems] == [(missing, 1), (str(binary), 1)]
    assert result.problems[0].message == "cannot read file: No such file or directory"
    assert result.problems[1].message.startswith("file is not valid UTF-8")


def test_load_resources_raises_config_error_with_every_error_but_not_warnings() -> None:
    with pytest.raises(ConfigError) as info:
        load_resources([str(DATA / "broken.yaml")])
    assert len(info.value.problems) == len(
        [e for e in expectations(DATA / "broken.yaml") if "warning:" not in e[1]]
    )
    assert all(not p.warning for p in info.value.problems)
