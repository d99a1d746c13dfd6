"""Decide every selected case with the engine `meshgate check` uses, and compare it with the expectations.

Everything that can be wrong with the inputs (test files, policies, key sets, keys) is found before the
first case runs: such a run decides nothing and exits 2, so a failure always means a changed answer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from meshgate.config.load import load_paths
from meshgate.config.model import ResourceSet
from meshgate.engine.attributes import RequestAttributes, build_headers
from meshgate.engine.decision import Decision
from meshgate.engine.engine import Engine
from meshgate.errors import Problem
from meshgate.jose.keys import KeySet
from meshgate.keystore.oneshot import FetchOutcome
from meshgate.policytest.compare import mismatches
from meshgate.policytest.keys import JwksMapping, KeyResolver, engine_keysets, holders
from meshgate.policytest.mint import Minter, Token
from meshgate.policytest.model import TOKEN_PLACEHOLDER, Case, PolicyTestFile, RequestSpec


@dataclass(frozen=True, slots=True)
class RunOptions:
    extra_config: tuple[str, ...] = ()
    jwks: dict[str, str] = field(default_factory=dict)  # --jwks URI=FILE (wins over a file's `jwks:`)
    offline: bool = False
    keyword: str = ""


@dataclass
class CaseResult:
    case: Case
    decision: Decision
    failures: list[str]
    notes: list[str]
    duration_s: float
    jwks: list[FetchOutcome] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class Prepared:
    """A case ready to decide: its engine, key snapshot, attributes and the headers it sent."""

    case: Case
    engine: Engine
    keys: dict[str, KeySet]
    attrs: RequestAttributes
    sent: tuple[tuple[str, str], ...]
    notes: list[str]
    jwks: list[FetchOutcome]


class Preparer:
    """Loads each config once, compiles each (config, workload) once, resolves each key set once."""

    def __init__(self, opts: RunOptions, now: float) -> None:
        self.opts = opts
        self.now = now
        self.problems: list[str] = []
        self.resolver = KeyResolver(offline=opts.offline)
        self.minter = Minter(int(now))
        self._resources: dict[tuple[str, ...], ResourceSet | None] = {}
        self._engines: dict[tuple[object, ...], Engine] = {}

    def file_config(self, f: PolicyTestFile) -> ResourceSet | None:
        paths = (*f.config, *self.opts.extra_config)
        if not paths:
            self.problems.append(f"{f.path}:1: no policies to test: add `config: [DIR]` or pass -c PATH")
            return None
        if paths not in self._resources:
            result = load_paths(paths)
            self.problems.extend(str(p) for p in result.errors)
            self._resources[paths] = result.resources if result.ok else None
        return self._resources[paths]

    def prepare(self, f: PolicyTestFile, resources: ResourceSet, case: Case) -> Prepared | None:
        key = (id(resources), case.workload.namespace, tuple(sorted(case.workload.labels.items())),
               case.workload.root_namespace)  # fmt: skip
        engine = self._engines.get(key)
        if engine is None:
            engine = self._engines[key] = Engine.for_workload(resources, case.workload)
        mapping = {
            uri: JwksMapping(path, f"{f.path}:{f.jwks_lines.get(uri, 1)}") for uri, path in f.jwks.items()
        }
        mapping.update({uri: JwksMapping(path, "--jwks") for uri, path in self.opts.jwks.items()})
        uris = [s.uri for s in engine.jwks_sources()]
        keys, problems = self.resolver.snapshot(uris, mapping, lambda uri: _where_uri(f, engine, uri))
        self.problems.extend(dict.fromkeys(p for p in problems if p not in self.problems))
        notes = [self.resolver.notes[u] for u in uris if u in self.resolver.notes]
        token = self._token(case)
        if token is None:
            return None
        if token.public_key is not None and not holders(token.public_key, engine_keysets(engine, keys)):
            notes.append(
                f"the public half of {token.key_file} is in no JWKS of the config (compared key material, "
                "not kid): a token it signs cannot verify"
            )
        sent = _headers(case.request, token.value if token.value else None)
        attrs = _attributes(case.request, sent, token.value)
        return Prepared(case, engine, keys, attrs, sent, notes, self.resolver.outcomes(uris, mapping))

    def _token(self, case: Case) -> Token | None:
        spec = case.request.token
        if spec is None:
            return Token("")
        try:
            return self.minter.token(spec)
        except (OSError, ValueError) as exc:
            self.problems.append(
                str(Problem(case.file, spec.line, f"token: {getattr(exc, 'strerror', None) or exc}"))
            )
            return None


def _where_uri(f: PolicyTestFile, engine: Engine, uri: str) -> str:
    """`tests.yaml:1: jwksUri U (RequestAuthentication ns/name, file:line)`: the test file is what to fix."""
    for ra in engine.request_authentications:
        if any(rule.jwks_uri == uri for rule in ra.jwt_rules):
            where = f"RequestAuthentication {ra.namespace}/{ra.name}, {ra.source.file}:{ra.source.line}"
            return f"{f.path}:1: jwksUri {uri} ({where})"
    return f"{f.path}:1: jwksUri {uri}"


def _headers(req: RequestSpec, token: str | None) -> tuple[tuple[str, str], ...]:
    """The headers sent: `host` first, then the case's; the token as `Authorization: Bearer` unless the
    case placed it itself with `$TOKEN` (in a header or the path)."""
    placed = TOKEN_PLACEHOLDER in req.path or any(TOKEN_PLACEHOLDER in v for _, v in req.headers)
    pairs = [("host", req.host)]
    pairs += [(n, v.replace(TOKEN_PLACEHOLDER, token or "")) for n, v in req.headers]
    if token and not placed:
        pairs.append(("authorization", f"Bearer {token}"))
    return tuple(pairs)


def _attributes(req: RequestSpec, sent: Sequence[tuple[str, str]], token: str) -> RequestAttributes:
    return RequestAttributes(
        method=req.method,
        path=req.path.replace(TOKEN_PLACEHOLDER, token),
        authority=req.host,
        scheme=req.scheme,
        headers=build_headers(sent),
        peer_ip=req.source_ip,
        local_port=req.port,
    )


def select(files: Sequence[PolicyTestFile], keyword: str) -> list[tuple[PolicyTestFile, Case]]:
    """`-k`: a case runs when its name contains the keyword (case-insensitive)."""
    wanted = keyword.lower()
    return [(f, c) for f in files for c in f.cases if wanted in c.name.lower()]


def prepare_all(
    files: Sequence[PolicyTestFile], opts: RunOptions, now: float
) -> tuple[list[Prepared], list[str]]:
    preparer = Preparer(opts, now)
    prepared: list[Prepared] = []
    for f, case in select(files, opts.keyword):
        resources = preparer.file_config(f)
        if resources is not None:
            ready = preparer.prepare(f, resources, case)
            if ready is not None:
                prepared.append(ready)
    return prepared, preparer.problems


def decide(p: Prepared, now: float) -> CaseResult:
    """The one decision path: `Engine.decide`, as `meshgate check` and the gateway call it."""
    started = time.perf_counter()
    decision = p.engine.decide(p.attrs, p.keys, now)
    failures = [text for _, text in mismatches(p.case.expect, decision, p.sent)]
    return CaseResult(p.case, decision, failures, p.notes, time.perf_counter() - started, p.jwks)
