"""The admin page's stylesheet and its few lines of script (poll the live part, submit "try" in place).

Both are inline and pinned by hash in the page's Content-Security-Policy: no other script can run there.
"""

from __future__ import annotations

import base64
import hashlib

STYLE = """
:root{--ok:#17663a;--okbg:#e3f4e8;--bad:#a4251c;--badbg:#fbe7e5;--line:#d9dde3;--muted:#5d6673;--bg:#f6f7f9}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232b;background:var(--bg)}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.4rem 1.2rem;padding:.7rem 1.4rem;
  background:#1f2933;color:#fff}
header h1{margin:0;font-size:1.25rem;letter-spacing:.02em}
header a{color:#c9e2ff;margin-right:.8rem}
.facts{display:flex;flex-wrap:wrap;gap:.2rem 1rem;margin:0}
.facts dt{color:#aab4c0}.facts dd{margin:0 .6rem 0 -.6rem}
main{max-width:1280px;margin:0 auto;padding:.6rem 1.4rem 1rem}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.6rem 1rem .8rem;margin:.8rem 0}
h2{font-size:1.05rem;margin:.2rem 0 .6rem}h3{font-size:.95rem;margin:.4rem 0}h4{font-size:.9rem;margin:.6rem 0 .3rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.28rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:.85rem}
table.small{width:auto;min-width:40%;margin:.6rem 0}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.86rem}
.path,.uri{word-break:break-all}
.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:var(--muted);font-weight:normal;font-size:.85rem}
.tiles{display:flex;flex-wrap:wrap;gap:.5rem}
.tile{border:1px solid var(--line);border-radius:6px;padding:.35rem .7rem;min-width:7.5rem}
.tile .n{display:block;font-size:1.3rem;font-weight:650}.tile .l{color:var(--muted);font-size:.8rem}
.tile.ok .n{color:var(--ok)}.tile.bad .n{color:var(--bad)}
.verdict,.status{display:inline-block;padding:0 .45rem;border-radius:4px;font-weight:650}
.ok .status,.verdict.ok,.status.ok{background:var(--okbg);color:var(--ok)}
.verdict.bad,.status.bad{background:var(--badbg);color:var(--bad)}
span.bad,p.bad{color:var(--bad)}
details summary{cursor:pointer;color:#1f5fa8}
pre{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:.5rem;max-height:24rem;
  overflow:auto;font-size:.8rem}
form{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end}
label{display:flex;flex-direction:column;font-size:.85rem;color:var(--muted);gap:.15rem}
label.grow{flex:1 1 16rem}label.wide{flex:1 1 100%}
input,select,textarea{font:inherit;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.86rem;
  padding:.3rem .4rem;border:1px solid #b9c0ca;border-radius:5px;color:#1d232b}
button{font:inherit;font-weight:600;padding:.4rem 1.1rem;border:0;border-radius:5px;background:#1f5fa8;
  color:#fff;cursor:pointer}
.result{margin-top:.7rem}.trace th{width:13rem}
.foot{text-align:center}
"""

SCRIPT = """
(() => {
  const stamp = document.body.dataset.config;
  async function poll() {
    if (document.hidden) return;
    try {
      const r = await fetch('/admin/live', {cache: 'no-store'});
      if (!r.ok) return;
      const t = document.createElement('template');
      t.innerHTML = await r.text();
      const next = t.content.firstElementChild;
      if (!next) return;
      if (next.dataset.config !== stamp) { location.reload(); return; }
      document.getElementById('live').replaceWith(next);
      document.getElementById('updated').textContent = 'Last update ' + new Date().toLocaleTimeString() + '.';
    } catch (e) { /* the next poll tries again */ }
  }
  setInterval(poll, 2000);
  const form = document.getElementById('try-form');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const r = await fetch('/admin/try?fragment=1', {method: 'POST', body: new URLSearchParams(new FormData(form))});
    document.getElementById('try-result').innerHTML = await r.text();
  });
})();
"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src {_hash(STYLE)}; script-src {_hash(SCRIPT)}; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
