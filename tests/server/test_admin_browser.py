"""A real `meshgate serve` with the seed, three requests (no token, another issuer,
demo.jwt), then the admin page in a real headless Chromium (Debian's `chromium`, no browser download):
the policies, the three decisions with their reasons, a working "try a request", live updates without a
reload, and a screenshot (copied to docs/admin-page.png when MESHGATE_ADMIN_SCREENSHOT names that path).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.gateway.conftest import DEMO_JWT, RawClient, ServeProcess, get, spawn_serve, wait_until
from tests.support.seed import SAMPLES, SEED_JWKS_URI, SEED_RESOURCES

from meshgate.cli.demo import another_issuers_token

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--window-size=1440,1300"]  # fmt: skip
ADMIN_LINE = re.compile(rb"admin on http://127\.0\.0\.1:(\d+)")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, int]]:
    """The seed, its jwksUri pointed at the packaged sample key set (file://): nothing leaves the machine."""
    seed = tmp_path_factory.mktemp("seed")
    for resource in SEED_RESOURCES.glob("*.yaml"):
        text = resource.read_text().replace(SEED_JWKS_URI, f"file://{SAMPLES / 'jwks.json'}")
        (seed / resource.name).write_text(text)
    gw = spawn_serve(["-c", str(seed), "--labels", "app=frontend", "--listen", "127.0.0.1:0",
                      "--admin", "127.0.0.1:0", "--access-log-format", "off"])  # fmt: skip
    try:
        assert wait_until(lambda: any(ADMIN_LINE.search(line) for line in gw.stdout), timeout=10), gw.stdout
        match = next(m for m in map(ADMIN_LINE.search, gw.stdout) if m)
        client = RawClient(gw.port)
        answers = [
            client.request(get("/", token=t)).status for t in (None, another_issuers_token(), DEMO_JWT)
        ]
        client.close()
        assert answers == [403, 401, 200]
        yield gw, int(match.group(1))
    finally:
        assert gw.stop() == 0


def chromium(*args: str, user_data: Path) -> str:
    done = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={user_data}", *args],
        capture_output=True, text=True, timeout=90, check=True,
    )  # fmt: skip
    return done.stdout


# (what the rendered page must show: the seed's policies and each decision with its reason, in words)
EXPECTED = [
    "default/frontend", "default/require-jwt", "request-authentication.yaml:1", "authorization-policy.yaml:1",
    "no ALLOW policy matched (no token)", "JWT rejected: Jwt issuer is not configured",
    "allowed by ALLOW policy default/require-jwt, rule 0 (token of testing@secure.istio.io/testing@secure.istio.io)",
    "DHFbpoIUqrY8t2zpA2qXfCmr5VO5ZEr4RzHU_-envvQ",
]  # fmt: skip


@pytest.mark.e2e
def test_chromium_renders_the_policies_and_the_three_decisions(
    served: tuple[ServeProcess, int], tmp_path: Path
) -> None:
    _, admin = served
    dom = chromium("--dump-dom", f"http://127.0.0.1:{admin}/", user_data=tmp_path / "profile")
    missing = [text for text in EXPECTED if text not in dom]
    assert not missing, missing
    assert re.findall(r"<span class=\"status (?:ok|bad)\">(\d+)</span>", dom)[-3:] == ["200", "401", "403"]
    assert DEMO_JWT not in dom and DEMO_JWT.split(".")[2] not in dom
    shot = tmp_path / "admin-page.png"
    chromium(f"--screenshot={shot}", f"http://127.0.0.1:{admin}/", user_data=tmp_path / "profile")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if target := os.environ.get("MESHGATE_ADMIN_SCREENSHOT"):
        shutil.copy(shot, target)


@pytest.mark.e2e
def test_try_a_request_and_live_updates_in_chromium(served: tuple[ServeProcess, int], tmp_path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    gw, admin = served
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.get(f"http://127.0.0.1:{admin}/")
        driver.execute_script("window.notReloaded = true;")
        wait = WebDriverWait(driver, 15)

        def decide(path: str, token: str) -> str:
            driver.find_element(By.ID, "try-path").clear()
            driver.find_element(By.ID, "try-path").send_keys(path)
            driver.find_element(By.ID, "try-token").clear()
            driver.find_element(By.ID, "try-token").send_keys(token)
            driver.execute_script("document.getElementById('try-result').textContent = '';")
            driver.find_element(By.ID, "try-submit").click()
            wait.until(lambda d: d.find_elements(By.ID, "try-verdict"))
            return str(driver.find_element(By.ID, "try-result").text)

        allowed = decide("/reviews/1", DEMO_JWT)
        assert allowed.startswith("ALLOWED 200") and "default/require-jwt, rule 0" in allowed
        assert DEMO_JWT not in driver.page_source
        denied = decide("/reviews/1", "")
        assert denied.startswith("DENIED 403") and "no ALLOW policy matched (no token)" in denied

        client = RawClient(gw.port)  # a fourth request: the page shows it without reloading
        assert client.request(get("/arrived-later")).status == 403
        client.close()
        wait.until(lambda d: "/arrived-later" in d.find_element(By.ID, "decisions").text)
        assert driver.execute_script("return window.notReloaded === true;")
        assert driver.execute_script("return document.querySelectorAll('script').length;") == 1
    finally:
        driver.quit()
