"""The admin page's static parts as escaped HTML: the frame, the resources in force, "try a request".

Every value that came from a config file, a request or the network goes through `html.escape`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from html import escape
from typing import Any

from meshgate.config.model import AuthorizationPolicy, RequestAuthentication, ResourceSet, Workload
from meshgate.config.select import select_for_workload
from meshgate.engine.decision import Decision
from meshgate.engine.explain import decision_to_json
from meshgate.server.admin.assets import SCRIPT, STYLE
from meshgate.server.admin.live import config_stamp, render_live
from meshgate.server.admin.trial import TryOutcome
from meshgate.server.admin.views import resource_view
from meshgate.server.decisions import policy_words, reason_words
from meshgate.server.state import ServingState

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def _labels(labels: dict[str, str] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))


def render_page(state: ServingState, try_html: str = "") -> str:
    w = state.workload
    ready = (
        '<span class="verdict ok">LIVE</span>'
        if state.ready
        else '<span class="verdict bad">INITIALIZING</span>'
    )
    reload = state.last_reload
    reload_text = "none"
    if reload is not None:
        reload_text = f"{reload['result']} at {_clock(reload['time'])}" + (
            f" ({len(reload['problems'])} problem(s): see the log)" if reload["problems"] else ""
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>meshgate admin</title>'
        f'<style>{STYLE}</style></head><body data-config="{escape(config_stamp(state))}">'
        f"<header><h1>meshgate</h1>{ready}<dl class=facts>"
        f"<dt>workload</dt><dd class=mono>{escape(w.namespace)} · {escape(_labels(w.labels) or 'no labels')}</dd>"
        f"<dt>config</dt><dd class=mono>{escape(' '.join(state.config_paths) or '(in memory)')}</dd>"
        f"<dt>loaded</dt><dd>{_clock(state.loaded_at)}</dd><dt>last reload</dt><dd>{escape(reload_text)}</dd>"
        '</dl><nav><a href="/config_dump">/config_dump</a> <a href="/stats/prometheus">/stats/prometheus</a> '
        '<a href="/admin/decisions.json">/admin/decisions.json</a></nav></header><main>'
        f"{render_live(state)}{render_resources(state)}{render_try(try_html)}"
        f'</main><p class="muted foot">Updates every 2 s. <span id="updated"></span></p><script>{SCRIPT}</script>'
        "</body></html>"
    )


def _clock(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch_s))


# -- resources ---------------------------------------------------------------------------------------


Resource = RequestAuthentication | AuthorizationPolicy


def render_resources(state: ServingState) -> str:
    resources = state.resources or ResourceSet(
        state.engine.request_authentications,
        state.engine.authorization_policies,
    )
    authns, policies = select_for_workload(resources, state.workload)
    in_force: list[Resource] = [*authns, *policies]
    chosen = {id(r) for r in in_force}
    others: dict[str, list[Resource]] = {}
    everything: list[Resource] = [*resources.request_authentications, *resources.authorization_policies]
    for r in everything:
        if id(r) not in chosen:
            others.setdefault(_selects(r, state.workload), []).append(r)
    w = state.workload
    head = f"Workload {w.namespace} · {_labels(w.labels) or 'no labels'}: in force"
    parts = [f"<h3>{escape(head)}</h3>", _resource_table(in_force, "No resource applies to this workload.")]
    if others:
        groups = "".join(
            f"<h4>{escape(target)}</h4>{_resource_table(items, '')}"
            for target, items in sorted(others.items())
        )
        count = sum(map(len, others.values()))
        parts.append(
            f"<details><summary>Loaded, but for other workloads ({count})</summary>{groups}</details>"
        )
    if resources.skipped:
        items = "".join(f"<li class=mono>{escape(s)}</li>" for s in resources.skipped)
        parts.append(
            f"<details><summary>Skipped documents ({len(resources.skipped)})</summary><ul>{items}</ul></details>"
        )
    return f'<section id="resources"><h2>Resources</h2>{"".join(parts)}</section>'


def _selects(r: Resource, workload: Workload) -> str:
    """Which workloads a resource is for: its namespace (root: mesh-wide) and selector, or targetRefs."""
    where = "every namespace (root)" if r.namespace == workload.root_namespace else f"namespace {r.namespace}"
    if r.target_refs:
        return f"{where}, targetRefs {', '.join(f'{t.kind}/{t.name}' for t in r.target_refs)} (Gateway API)"
    return f"{where}, " + (f"workloads labelled {_labels(r.selector)}" if r.selector else "every workload")


def _summary(r: Resource) -> str:
    if isinstance(r, RequestAuthentication):
        return "; ".join(f"issuer {rule.issuer or '(any)'}" for rule in r.jwt_rules) or "no jwtRules"
    rules = "no rules" if r.rules is None else f"{len(r.rules)} rule(s)"
    extra = " (dry-run)" if r.dry_run else ""
    return f"{r.action.value}{extra}, {rules}" + (f", provider {r.provider}" if r.provider else "")


def _resource_table(items: Sequence[Resource], empty: str) -> str:
    if not items:
        return f'<p class="muted">{escape(empty)}</p>'
    rows = "".join(
        f"<tr><td>{type(r).__name__}</td><td class=mono>{escape(r.namespace)}/{escape(r.name)}</td>"
        f"<td>{escape(_summary(r))}</td><td class=mono>{escape(r.source.file)}:{r.source.line}</td>"
        "<td><details><summary>compiled view</summary><pre>"
        f"{escape(json.dumps(resource_view(r), indent=2))}</pre></details></td></tr>"
        for r in items
    )
    return (
        "<table><thead><tr><th>kind</th><th>namespace/name</th><th>what</th><th>file:line</th><th></th></tr>"
        f"</thead><tbody>{rows}</tbody></table>"
    )


# -- try a request -----------------------------------------------------------------------------------


def render_try(result_html: str) -> str:
    options = "".join(f"<option>{m}</option>" for m in METHODS)
    return (
        '<section id="try"><h2>Try a request</h2><p class="muted">Decided by the live engine and key sets, '
        "like a request to the gateway, but neither sent upstream nor counted. The token is never shown back."
        '</p><form id="try-form" method="post" action="/admin/try">'
        f'<label>method <select name="method" id="try-method">{options}</select></label>'
        '<label class="grow">path <input name="path" id="try-path" value="/" autocomplete="off"></label>'
        '<label>host <input name="host" id="try-host" value="localhost" autocomplete="off"></label>'
        '<label class="wide"><span>headers, one <code>Name: value</code> per line</span><textarea name="headers" '
        'id="try-headers" rows="2" spellcheck="false"></textarea></label>'
        '<label class="wide"><span>token (sent as <code>Authorization: Bearer …</code>)</span><textarea name="token" '
        'id="try-token" rows="2" spellcheck="false" autocomplete="off"></textarea></label>'
        '<button type="submit" id="try-submit">Decide</button></form>'
        f'<div id="try-result">{result_html}</div></section>'
    )


def render_try_result(outcome: TryOutcome) -> str:
    if outcome.decision is None:
        return f'<p class="bad">Not a request: {escape(outcome.error)}</p>'
    d: Decision = outcome.decision
    data = decision_to_json(d)
    scrub = outcome.scrub
    verdict = "ALLOWED" if d.allowed else "DENIED"
    rows: list[tuple[str, Any]] = [("why", reason_words(d, d.status))]
    if not d.allowed:
        rows.append(("body", d.body or "(empty)"))
    rows += [(f"response header {n}", v) for n, v in d.headers]
    if data["upstream"] is not None:
        rows.append(("upstream path", data["upstream"]["path"]))
        rows += [("upstream removes", n) for n in data["upstream"]["remove"]]
        rows += [(f"upstream sets {n}", v) for n, v in data["upstream"]["set"].items()]
    trace = data["trace"]
    rows.append(("normalized path", trace["path"]))
    rows += [(f"authn {k.replace('_', ' ')}", v) for k, v in trace["authn"].items() if v]
    rows += [(f"authz {k.replace('_', ' ')}", policy_words(_text(v))) for k, v in trace["authz"].items() if v]
    if d.custom_provider:
        rows.append(
            ("note", f"the gateway would now ask CUSTOM provider {d.custom_provider} (not from this page)")
        )
    body = "".join(
        f"<tr><th>{escape(scrub(k))}</th><td class=mono>{escape(scrub(str(v)))}</td></tr>" for k, v in rows
    )
    cls = "ok" if d.allowed else "bad"
    head = f'<p><span class="verdict {cls}" id="try-verdict">{verdict} {d.status}</span></p>'
    return f'<div class="result">{head}<table class="trace">{body}</table></div>'


def _text(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
