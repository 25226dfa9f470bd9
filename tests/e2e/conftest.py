"""A real `pixseek serve` with login on, and headless Chromium watching every page it drives.

Every test gets a `Browsing`: a fresh browser context and page whose console errors, page errors
and failed requests are collected (a test names the failures it provokes), plus screenshots of
each step in test-artifacts/e2e/<test>/.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, sync_playwright

from tests.integration.services import free_port, indexed_rows, pixseek_env, stop, wait_for
from tests.web.photos import write_jpegs

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
# axe-core from the npm registry, installed by scripts/test (npm install --prefix .cache/e2e)
AXE = ROOT / ".cache" / "e2e" / "node_modules" / "axe-core" / "axe.min.js"
AXE_BLOCKING = ("serious", "critical")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
ADMIN_PASSWORD = "correct horse battery staple"
SECRET_KEY = "e2e-secret-key-0123456789-abcdefghijklmn"  # 40 characters
LIBRARY_PHOTOS = 12
TIMEOUT_MS = 60_000  # a CI machine with 2 cores embeds and serves at once


@dataclass(frozen=True)
class Server:
    url: str  # without the trailing slash
    data_dir: Path
    library: list[Path]
    uploads: list[Path]  # pictures the library does not hold, for the upload page
    log: Path

    def get_json(self, path: str) -> object:
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return json.load(answer)


def _ready(url: str, process: subprocess.Popen[bytes], log: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"pixseek serve exited ({process.returncode}):\n{log.read_text()}")
    try:
        with urllib.request.urlopen(url + "/api/v1/ready", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False  # not listening yet, or 503 while the model loads


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`pixseek serve LIBRARY --port N` with auth on, once its library is indexed."""
    with serving(tmp_path_factory.mktemp("e2e"), LIBRARY_PHOTOS) as started:
        yield started


@contextlib.contextmanager
def serving(root: Path, photos: int) -> Iterator[Server]:
    """`pixseek serve` of a library of this many photos (0: an empty folder), once indexed."""
    library = write_jpegs(root / "library", range(photos))
    (root / "library").mkdir(exist_ok=True)
    uploads = write_jpegs(root / "to-upload", range(100, 103))
    data_dir, log, port = root / "data", root / "serve.log", free_port()
    env = pixseek_env(
        data_dir=str(data_dir), auth="on", secret_key=SECRET_KEY, admin_password=ADMIN_PASSWORD
    )
    env.pop("PIXSEEK_PORT")  # --port says it
    entry_point = Path(sys.executable).with_name("pixseek")
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [str(entry_point), "serve", str(root / "library"), "--port", str(port)],
            env=env, stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url, process, log), 120, "GET /api/v1/ready to answer 200")
        wait_for(lambda: indexed_rows(data_dir) == photos, 120, "the library indexed")
        yield Server(url, data_dir, library, uploads, log)
    finally:
        stop(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


SETTLED_JS = """() => document.getAnimations().every(
    (a) => a.playState !== "running" || a.effect?.getComputedTiming().iterations === Infinity
)"""


@dataclass
class Browsing:
    """One browser context and page, with what went wrong on it and a screenshot per step."""

    page: Page
    base: str
    shots: Path
    problems: list[str] = field(default_factory=list)
    allowed: list[tuple[int, re.Pattern[str]]] = field(default_factory=list)
    _step: int = 0

    def allow(self, status: int, url_pattern: str) -> None:
        """A failure this test provokes: a response with status for a URL matching the pattern."""
        self.allowed.append((status, re.compile(url_pattern)))

    def shot(self, name: str) -> None:
        """A screenshot of this page state, which axe-core must find free of serious or
        critical accessibility violations."""
        self._step += 1
        # a toast or dialog still fading in would be half transparent: axe-core would measure
        # its contrast mid-way (endless animations such as spinners are left running)
        self.page.wait_for_function(SETTLED_JS, timeout=5000)
        self.page.screenshot(path=str(self.shots / f"{self._step:02d}-{name}.png"), full_page=True)
        self.assert_accessible(name)

    def assert_accessible(self, state: str) -> None:
        if not self.page.evaluate("() => Boolean(window.axe)"):
            # evaluated through the DevTools protocol: the app's CSP forbids an added <script>
            self.page.evaluate(axe_source() + "\n;true")
        found = self.page.evaluate(AXE_RUN_JS)
        blocking = [v for v in found if v["impact"] in AXE_BLOCKING]
        assert not blocking, f"axe-core on {state} ({self.page.url}):\n" + "\n".join(
            f"{v['impact']} {v['id']}: {v['help']} at {v['targets']}" for v in blocking
        )

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)

    def assert_clean(self) -> None:
        assert not self.problems, "the browser saw errors:\n" + "\n".join(self.problems)

    def _is_allowed(self, status: int, url: str) -> bool:
        return any(status == s and pattern.search(url) for s, pattern in self.allowed)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        text, where = message.text, message.location.get("url", "")
        status = re.search(r"status of (\d{3})", text)
        if status and self._is_allowed(int(status.group(1)), where):
            return  # Chromium's own line for a failed response the test provoked
        self.problems.append(f"console error: {text} ({where})")

    def on_response(self, response: Response) -> None:
        status, url = response.status, response.url
        if status >= 400 and not self._is_allowed(status, url):
            method = response.request.method
            self.problems.append(f"failed request: {method} {url} -> {status}")

    def on_request_failed(self, request: Request) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" in failure:
            return  # a navigation away cancels the old page's pending loads: not an error
        self.problems.append(f"request failed: {request.method} {request.url}: {failure}")


@functools.cache
def axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


AXE_RUN_JS = """async () => {
    const found = await axe.run(document, { resultTypes: ['violations'] });
    return found.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        targets: v.nodes.slice(0, 5).map(n => n.target.join(' ')).join(', '),
    }));
}"""


@pytest.fixture
def browsing(
    browser: Browser, server: Server, request: pytest.FixtureRequest
) -> Iterator[Browsing]:
    """A desktop browser; a test marked `@pytest.mark.phone` gets a 390x844 touch screen."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: scripts/test installs axe-core with npm")
    shots = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    phone = request.node.get_closest_marker("phone") is not None
    context = browser.new_context(
        viewport=PHONE if phone else DESKTOP, has_touch=phone, is_mobile=phone
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watched = Browsing(page, server.url, shots)
    page.on("console", watched.on_console)
    page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
    page.on("response", watched.on_response)
    page.on("requestfailed", watched.on_request_failed)
    try:
        yield watched
    finally:
        context.close()
