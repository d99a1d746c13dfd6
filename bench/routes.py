"""The routing of the `meshgate-routes` bench row: meshgate as the ingress with a 10-route VirtualService.

The seed's policies stay on the gateway workload (bench/seed.py: istio=ingressgateway in istio-system),
exactly as in the `meshgate` row; a Gateway selecting it listens on the row's port, a VirtualService holds
ten prefix routes whose last (`/api/v1/items/`) is the one the ingress mix's paths take, and a
ServiceEntry sends them to the same nginx upstream, whose endpoint is a workload with no policy of its own
(its hop runs and allows). So the two rows differ by routing alone: the route walk, the rebuilt headers,
the destination hop, the per-endpoint pool.
"""

from __future__ import annotations

from pathlib import Path

ROUTES = 10
LAST_PREFIX = "/api/v1/items/"  # bench/ingress_mix.lua's paths
PROBE_PATH = LAST_PREFIX + "1"  # readiness and the seed's answers are asked there (no route serves `/`)


def routes_yaml(port: int, upstream_port: int) -> str:
    rules = [f"  - match: [{{uri: {{prefix: /svc{i}/}}}}]\n    route: [{{destination: {{host: frontend}}}}]"
             for i in range(ROUTES - 1)]  # fmt: skip
    rules.append(
        f"  - match: [{{uri: {{prefix: {LAST_PREFIX}}}}}]\n    route: [{{destination: {{host: frontend}}}}]"
    )
    return f"""\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: bench, namespace: istio-system}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: {port}, name: http, protocol: HTTP}}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: frontend, namespace: default}}
spec:
  hosts: [frontend.default.svc.cluster.local]
  ports: [{{number: 80, name: http, protocol: HTTP}}]
  resolution: STATIC
  endpoints: [{{address: 127.0.0.1, ports: {{http: {upstream_port}}}, labels: {{app: frontend}}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: bench, namespace: default}}
spec:
  hosts: ["*"]
  gateways: [istio-system/bench]
  http:
{chr(10).join(rules)}
"""


def write(directory: Path, port: int, upstream_port: int) -> Path:
    path = directory / f"routes-{port}.yaml"
    path.write_text(routes_yaml(port, upstream_port))
    return path
