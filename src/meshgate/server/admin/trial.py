""" "Try a request" on the admin page: a form → request attributes → the live engine's decision.

It decides through `ServingState.decide` (the gateway's path: current engine and keys, one refetch on an
unknown kid), records nothing (not traffic), and hands back a scrubber that blanks the token wherever the
answer could carry it (path, realm, payload header): the page shows decisions, never tokens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from meshgate.engine.attributes import RequestAttributes, build_headers, parse_header_line
from meshgate.engine.decision import Decision
from meshgate.errors import UsageError
from meshgate.server.decisions import JWT_SHAPED, TOKEN_MARK, redact
from meshgate.server.state import ServingState

METHOD = re.compile(r"^[A-Za-z]{1,20}$")
MAX_FIELD = 16 * 1024
SEGMENT_MIN = 8  # a shorter base64url run is not worth hiding (and would blank ordinary words)


@dataclass(frozen=True, slots=True)
class TryForm:
    method: str = "GET"
    path: str = "/"
    host: str = "localhost"
    headers: str = ""  # `Name: value` lines
    token: str = ""

    @classmethod
    def from_post(cls, data: Mapping[str, str]) -> TryForm:
        def field(name: str, default: str) -> str:
            return str(data.get(name, default))[:MAX_FIELD].strip() or default

        return cls(
            method=field("method", "GET").upper(),
            path=field("path", "/"),
            host=field("host", "localhost"),
            headers=str(data.get("headers", ""))[:MAX_FIELD],
            token=field("token", ""),
        )

    def attributes(self) -> RequestAttributes:
        """Raises UsageError on a malformed method or header line."""
        if not METHOD.match(self.method):
            raise UsageError(f"method: letters only, got {self.method!r}")
        pairs = [("host", self.host)]
        pairs += [parse_header_line(line) for line in self.headers.splitlines() if line.strip()]
        if self.token:
            pairs.append(("authorization", f"Bearer {self.token}"))
        return RequestAttributes(self.method, self.path, authority=self.host, headers=build_headers(pairs))


class Scrubber:
    """Blanks every token the form carried (and each of its segments) plus anything JWT-shaped."""

    def __init__(self, form: TryForm, params: tuple[str, ...]) -> None:
        found = [form.token, *JWT_SHAPED.findall(form.headers), *JWT_SHAPED.findall(form.path)]
        secrets = {s for t in found if t for s in (t, *t.split(".")) if len(s) >= SEGMENT_MIN}
        self.secrets = sorted(secrets, key=len, reverse=True)
        self.params = params

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, TOKEN_MARK)
        return redact(text, self.params)


@dataclass(frozen=True, slots=True)
class TryOutcome:
    decision: Decision | None
    error: str
    scrub: Scrubber


def token_params(state: ServingState) -> tuple[str, ...]:
    """The query parameters the engine reads tokens from (their values are blanked on the page)."""
    providers = state.engine.authenticator.providers
    names = {loc.name for p in providers for loc in p.locations if loc.kind == "param"}
    return tuple(sorted(names | {"access_token"}))


async def try_request(state: ServingState, data: Mapping[str, str]) -> TryOutcome:
    form = TryForm.from_post(data)
    scrub = Scrubber(form, token_params(state))
    try:
        attrs = form.attributes()
    except UsageError as exc:
        return TryOutcome(None, scrub(str(exc)), scrub)
    return TryOutcome(await state.decide(attrs), "", scrub)
