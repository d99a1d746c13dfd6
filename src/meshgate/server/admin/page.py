"""The admin page: `/` (HTML), `/admin/live` (the part that updates itself), `/admin/decisions.json`,
and `POST /admin/try`. Served on the admin port only, which binds loopback unless told otherwise.

Responses carry no token and no key: decisions hold none but in paths, which are blanked; "try" answers
are scrubbed of the token sent; key sets are shown by URI and kids. The page's own script and style are
pinned by hash in its Content-Security-Policy, so an escaping slip could not run anything.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from meshgate.server.admin.assets import CONTENT_SECURITY_POLICY
from meshgate.server.admin.html import render_page, render_try_result
from meshgate.server.admin.live import render_live
from meshgate.server.admin.trial import token_params, try_request
from meshgate.server.decisions import reason_words, redact
from meshgate.server.state import ServingState

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
MAX_FORM_BYTES = 64 * 1024


def _html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", charset="utf-8", headers=HEADERS)


def decisions_json(state: ServingState) -> list[dict[str, Any]]:
    """The ring, newest first, as the page shows it (tokens blanked, reasons in words)."""
    params = token_params(state)
    return [
        {
            "time": r.start,
            "front": r.front,
            "method": r.method,
            "path": redact(r.path, params),
            "status": r.status,
            "allowed": bool(r.decision is not None and r.decision.allowed),
            "reason": reason_words(r.decision, r.status),
            "policy": r.decision.trace.authz.policy_id if r.decision is not None else None,
        }
        for r in state.decisions.newest_first()
    ]


def add_page_routes(app: web.Application, state: ServingState) -> None:
    async def page(request: web.Request) -> web.Response:
        return _html(render_page(state))

    async def live(request: web.Request) -> web.Response:
        return _html(render_live(state))

    async def decisions(request: web.Request) -> web.Response:
        return web.json_response(decisions_json(state), headers={"Cache-Control": "no-store"})

    async def try_it(request: web.Request) -> web.Response:
        if (request.content_length or 0) > MAX_FORM_BYTES:
            raise web.HTTPRequestEntityTooLarge(
                max_size=MAX_FORM_BYTES, actual_size=request.content_length or 0
            )
        form = await request.post()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        result = render_try_result(await try_request(state, fields))
        return _html(result if request.query.get("fragment") else render_page(state, result))

    app.router.add_get("/", page)
    app.router.add_get("/admin/live", live)
    app.router.add_get("/admin/decisions.json", decisions)
    app.router.add_post("/admin/try", try_it)
