"""The admin page's live part — counters, the last decisions, the key sets — rendered as escaped HTML.

The page polls `/admin/live` and swaps this fragment in (no reload). Key sets show URI, age, kids,
last error and next refresh; never a key. Paths are shown with tokens blanked (server/decisions.py).
"""

from __future__ import annotations

import time
from html import escape
from typing import Any

from meshgate.server.admin.trial import token_params
from meshgate.server.decisions import reason_words, redact
from meshgate.server.metrics import JWT_ALLOWED, JWT_DENIED, RBAC_ALLOWED, RBAC_DENIED
from meshgate.server.state import ServingState

SHOWN_DECISIONS = 200


def config_stamp(state: ServingState) -> str:
    """Changes when a reload swaps the configuration: the page then reloads itself whole."""
    return f"{state.loaded_at:.6f}"


def render_live(state: ServingState) -> str:
    return (
        f'<div id="live" data-config="{escape(config_stamp(state))}">'
        f"{render_counters(state)}{render_decisions(state)}{render_keys(state)}</div>"
    )


def _tile(label: str, value: int, cls: str = "") -> str:
    return (
        f'<div class="tile {cls}"><span class="n">{value}</span><span class="l">{escape(label)}</span></div>'
    )


def render_counters(state: ServingState) -> str:
    m = state.metrics
    by_code: dict[int, int] = {}
    for (code, _flags), n in m.requests.items():
        by_code[code] = by_code.get(code, 0) + n
    tiles = [_tile("requests", sum(by_code.values()))]
    tiles += [
        _tile(f"answered {code}", n, "ok" if code < 400 else "bad") for code, n in sorted(by_code.items())
    ]
    tiles += [
        _tile("JWT accepted or absent", m.envoy[JWT_ALLOWED], "ok"),
        _tile("JWT rejected", m.envoy[JWT_DENIED], "bad"),
        _tile("RBAC allowed", m.envoy[RBAC_ALLOWED], "ok"),
        _tile("RBAC denied", m.envoy[RBAC_DENIED], "bad"),
    ]
    rows = "".join(
        f"<tr><td>{escape(status)}</td><td class=num>{n}</td></tr>"
        for status, n in sorted(m.jwt_denied.items())
    )
    jwt = (
        f"<table class=small><tr><th>JWT rejected because</th><th>count</th></tr>{rows}</table>"
        if rows
        else ""
    )
    return (
        '<section id="counters"><h2>At a glance</h2>'
        f'<div class="tiles">{"".join(tiles)}</div>{jwt}{_by_reason(state)}'
        '<p class="muted">Every counter, as Prometheus reads them: '
        '<a href="/stats/prometheus">/stats/prometheus</a></p></section>'
    )


def _by_reason(state: ServingState) -> str:
    counts: dict[tuple[bool, str], int] = {}
    for r in state.decisions.records():
        key = (bool(r.decision is not None and r.decision.allowed), reason_words(r.decision, r.status))
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return ""
    rows = "".join(
        f'<tr><td><span class="verdict {"ok" if allowed else "bad"}">{"allowed" if allowed else "denied"}'
        f"</span></td><td>{escape(words)}</td><td class=num>{n}</td></tr>"
        for (allowed, words), n in sorted(counts.items(), key=lambda kv: -kv[1])
    )
    return (
        f"<table class=small><tr><th colspan=2>In the last {len(state.decisions)} decisions, by reason</th>"
        f"<th>count</th></tr>{rows}</table>"
    )


def render_decisions(state: ServingState) -> str:
    params = token_params(state)
    rows = []
    for r in state.decisions.newest_first(SHOWN_DECISIONS):
        allowed = r.decision is not None and r.decision.allowed
        stamp = time.strftime("%H:%M:%S", time.gmtime(r.start)) + f".{int(r.start * 1000) % 1000:03d}"
        rows.append(
            f'<tr class="{"ok" if allowed else "bad"}"><td class=mono>{stamp}</td><td>{escape(r.front)}</td>'
            f'<td class=mono>{escape(r.method)}</td><td class="mono path">{escape(redact(r.path, params))}</td>'
            f'<td class=num><span class="status {"ok" if allowed else "bad"}">{r.status}</span></td>'
            f"<td>{escape(reason_words(r.decision, r.status))}</td></tr>"
        )
    body = "".join(rows) or '<tr><td colspan=6 class="muted">No request yet.</td></tr>'
    return (
        f'<section id="decisions"><h2>Last decisions <span class="muted">(newest first, at most '
        f"{state.decisions.maxlen}; this process)</span></h2><table><thead><tr><th>time (UTC)</th><th>front</th>"
        f"<th>method</th><th>path</th><th>status</th><th>why</th></tr></thead><tbody>{body}</tbody></table></section>"
    )


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    return f"{seconds / 60:.0f} min ago" if seconds < 7200 else f"{seconds / 3600:.1f} h ago"


def _next_refresh(s: dict[str, Any]) -> str:
    if s["kind"] == "file":
        return "when the file changes (polled every second)"
    delay = s.get("next_refresh_s")
    if delay is None:
        return "first fetch pending"
    since = (
        min(a for a in (s["age_s"], s["last_error_age_s"]) if a is not None) if s["first_attempt_done"] else 0
    )
    return f"in {max(0.0, delay - since):.0f} s"


def render_keys(state: ServingState) -> str:
    rows = []
    for s in state.keystore.state():
        error = s["last_error"]
        error_html = (
            f'<span class="bad">{escape(error)}</span> ({_ago(s["last_error_age_s"])})' if error else "none"
        )
        rows.append(
            f'<tr><td class="mono uri">{escape(s["uri"])}</td><td>{escape(s["kind"])}</td>'
            f"<td>{_ago(s['age_s']) if s['age_s'] is not None else 'no good fetch yet'}</td>"
            f"<td class=mono>{escape(', '.join(s['kids']) or '(none)')}</td><td>{error_html}</td>"
            f"<td>{escape(_next_refresh(s))}</td></tr>"
        )
    providers = state.engine.authenticator.providers
    for p in providers:
        if p.inline is not None:
            kids = ", ".join(p.inline.kids) or "(none)"
            rows.append(
                f"<tr><td class=mono>inline <code>jwks</code> of {escape(p.describe())}</td><td>inline</td>"
                f"<td>loaded with the config</td><td class=mono>{escape(kids)}</td><td>none</td><td>on reload</td></tr>"
            )
    body = "".join(rows) or '<tr><td colspan=6 class="muted">No JWT rule needs a key set.</td></tr>'
    return (
        '<section id="keys"><h2>Key sets</h2><table><thead><tr><th>URI</th><th>kind</th><th>fetched</th>'
        f"<th>kids</th><th>last error</th><th>next refresh</th></tr></thead><tbody>{body}</tbody></table></section>"
    )
