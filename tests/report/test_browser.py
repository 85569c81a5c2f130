"""report.html opened in a real browser: it draws, every figure loads, nothing is fetched.

Headless Chromium (``/usr/bin/chromium``, or the path in ``EFFEKT_CHROMIUM``)
takes a screenshot, dumps the DOM after a small inline script has counted
the images that decoded, and writes a NetLog. Without Chromium the test is
skipped locally and fails in CI (``CI=true``), where ``.ci/run`` installs it.

Chromium itself asks Google for a few things at start-up whatever the flags
(the account list, a search-box config); those requests carry no page
origin (``initiator`` "not an origin") and the host resolver maps every name
to nothing, so nothing leaves the machine. A request made by the page would
carry the page's origin ("null" for a file): the test refuses any such
request, and checks the check itself on a page that does fetch an image.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--no-pings", "--disable-domain-reliability",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter",
    '--host-resolver-rules=MAP * ~NOTFOUND',
]

PROBE = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute("data-images", imgs.length + "/" + ok.length);
});
</script>"""


def _chromium() -> str:
    path = os.environ.get("EFFEKT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"headless Chromium is needed in CI and was not found at {path!r}; "
                        "install Debian's chromium package (.ci/run does) or set EFFEKT_CHROMIUM.")
        pytest.skip(f"no Chromium at {path!r} (set EFFEKT_CHROMIUM to run this test)")
    return path


def _run(chromium: str, tmp: Path, page: Path, *extra: str, tag: str) -> tuple[str, Path]:
    netlog = tmp / f"{tag}.netlog.json"
    cmd = [chromium, *FLAGS, f"--user-data-dir={tmp / ('profile-' + tag)}", f"--log-net-log={netlog}",
           *extra, page.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, netlog


def _page_requests(netlog: Path) -> list[str]:
    """URLs of requests started by a document (any initiator that is a real or opaque origin)."""
    log = json.loads(netlog.read_text())
    types = log["constants"]["logEventTypes"]
    start = types["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if event["type"] == start and "url" in params:
            url = str(params["url"])
            if url.startswith(("file:", "data:")):
                continue
            if params.get("initiator", "not an origin") != "not an origin":
                urls.append(url)
    return urls


def _all_urls(netlog: Path) -> set[str]:
    return set(re.findall(r'"url":\s*"([^"]*)"', netlog.read_text()))


@pytest.fixture(scope="module")
def chromium():
    return _chromium()


def test_report_has_nothing_to_fetch(report_dir):
    text = (report_dir / "report.html").read_text()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, flags=re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//""", text, flags=re.I)
    assert not re.search(r"@import", text)


def test_report_in_headless_chromium(chromium, report_dir, tmp_path):
    page = report_dir / "report.html"
    n_figures = len(list((report_dir / "figures").glob("*.svg")))

    # 1. the screenshot is not blank
    shot = tmp_path / "shot.png"
    _, netlog_shot = _run(chromium, tmp_path, page, "--window-size=1200,2400", f"--screenshot={shot}", tag="shot")
    from matplotlib import image

    pixels = image.imread(str(shot))[..., :3]
    assert pixels.shape[:2] == (2400, 1200)
    assert float(np.var(pixels)) > 0.005
    assert float(np.mean(pixels.min(axis=2) < 0.9)) > 0.01  # more than 1% of the page is not white

    # 2. every figure loads: a copy of the page with a probe script, DOM dumped after load
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom, netlog_dom = _run(chromium, tmp_path, probed, "--dump-dom", "--virtual-time-budget=5000", tag="dom")
    found = re.search(r'data-images="(\d+)/(\d+)"', dom)
    assert found, dom[:500]
    assert int(found.group(1)) == n_figures
    assert found.group(2) == found.group(1)

    # 3. the page asked the network for nothing
    for log in (netlog_shot, netlog_dom):
        assert _page_requests(log) == []
        # whatever Chromium itself asked for went to its own services, never to a host the page names
        assert all(re.match(r"https?://([a-z0-9-]+\.)*(google|gstatic|googleapis)\.com[/:]", u) or u.startswith("http://~")
                   or u.startswith("https://~") for u in _all_urls(log)), sorted(_all_urls(log))


def test_the_network_check_sees_a_page_request(chromium, tmp_path):
    page = tmp_path / "fetches.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://figures.example.org/plot.png"></body></html>')
    _, netlog = _run(chromium, tmp_path, page, "--dump-dom", "--virtual-time-budget=3000", tag="control")
    assert "http://figures.example.org/plot.png" in _page_requests(netlog)


def test_missing_chromium_skips_locally_and_fails_in_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("EFFEKT_CHROMIUM", str(tmp_path / "no-such-browser"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        _chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="needed in CI"):
        _chromium()
