"""`meshgate validate`: every problem as `file:line: message`, a summary line, exit 0 only when valid."""

from __future__ import annotations

import io
from pathlib import Path

from meshgate.cli.validate import run_validate

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"


def run(*paths: Path) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = run_validate([str(p) for p in paths], out)
    return code, out.getvalue().splitlines()


def test_seed_is_valid() -> None:
    code, lines = run(ROOT / "examples" / "seed")
    assert (code, lines) == (
        0,
        [  # the policy tests beside the seed (`meshgate test`) are not an Istio kind
            f"{ROOT / 'examples' / 'seed' / 'tests.yaml'}:4: skipped PolicyTest (meshgate/v1)",
            "2 resources valid (1 RequestAuthentication, 1 AuthorizationPolicy), 1 skipped",
        ],
    )


def test_ingress_deny_example_is_valid_with_istiod_tcp_warning() -> None:
    code, lines = run(ROOT / "examples" / "ingress-deny")
    policy = ROOT / "examples" / "ingress-deny" / "authorization-policy.yaml"
    assert code == 0
    assert lines[0].startswith(f"{policy}:12: warning: configured AuthorizationPolicy will deny all traffic")
    assert lines[1:] == ["2 resources valid (1 RequestAuthentication, 1 AuthorizationPolicy), 1 warning"]


def test_skipped_kinds_are_listed_and_counted() -> None:
    code, lines = run(DATA / "list.yaml")
    assert code == 0
    assert lines == [
        f"{DATA / 'list.yaml'}:17: skipped Deployment (apps/v1)",
        "2 resources valid (1 RequestAuthentication, 1 AuthorizationPolicy), 1 skipped",
    ]


def test_broken_file_fails_with_every_problem() -> None:
    code, lines = run(DATA / "broken.yaml")
    assert code == 1
    assert lines[0] == f"{DATA / 'broken.yaml'}:10: issuer or jwksUri must be non-empty string"
    assert f"{DATA / 'broken.yaml'}:66: warning: workload selector specified without labels" in lines
    assert lines[-1] == "12 problems"


def test_missing_file_fails(tmp_path: Path) -> None:
    code, lines = run(tmp_path / "absent.yaml")
    assert (code, lines) == (
        1,
        [f"{tmp_path / 'absent.yaml'}:1: cannot read file: No such file or directory", "1 problem"],
    )


def test_ingress_example_is_valid() -> None:
    """examples/ingress: the seed behind an ingress gateway (Gateway, VirtualService, ServiceEntry, policies)."""
    code, lines = run(ROOT / "examples" / "ingress")
    kinds = "1 RequestAuthentication, 1 AuthorizationPolicy, 1 Gateway, 1 VirtualService, 1 ServiceEntry"
    assert (code, lines) == (0, [f"5 resources valid ({kinds})"])
