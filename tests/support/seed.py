"""The seed (`frontend` + `require-jwt` in `default`, app=frontend) laid out as in the repo.

`seed_tree()` copies examples/seed (the seed's two resources and tests.yaml) under `<tmp>/examples/seed/`,
with `<tmp>/src/meshgate/data` pointing at the packaged samples, so the test file's relative paths resolve
exactly as they do in the repository.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEED_RESOURCES = ROOT / "examples" / "seed"
SEED_TESTS = ROOT / "examples" / "seed" / "tests.yaml"
SAMPLES = ROOT / "src" / "meshgate" / "data"
SEED_JWKS_URI = (
    "https://raw.githubusercontent.com/istio/istio/release-1.5/security/tools/jwt/samples/jwks.json"
)


def seed_tree(tmp: Path) -> Path:
    """`<tmp>/examples/seed/` with the seed's resources and tests.yaml; returns that directory."""
    seed = tmp / "examples" / "seed"
    seed.mkdir(parents=True)
    for resource in sorted(SEED_RESOURCES.glob("*.yaml")):
        shutil.copy(resource, seed / resource.name)  # tests.yaml among them
    (tmp / "src" / "meshgate").mkdir(parents=True)
    (tmp / "src" / "meshgate" / "data").symlink_to(SAMPLES)
    return seed
