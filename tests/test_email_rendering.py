"""The email as clients see it: Gmail's clipping size, caniemail's verdict, a real browser at 600/375 px."""

from __future__ import annotations

import html as htmllib
import os
import re
import shutil
import struct
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest import periods
from digest.analysis import Spike, Summary, summarize, to_quotes
from digest.models import SourceHealth
from digest.periods import Period
from digest.render import HTML_BUDGET, Templates, render_alert, render_digest

from . import factories as f
from .conftest import skip_unless_ci

ROOT = Path(__file__).resolve().parent.parent
CHECK_EMAIL = ROOT.parent / "shared" / "tools" / "check_email.py"
TZ = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
GMAIL_CLIP = 102_000  # bytes; Gmail's limit is about 102 KB
TOPICS = {"Baggage": ["bag"], "Delays": ["delay"], "Billing": ["refund"], "Staff": ["rude"], "App": ["app"]}
HEALTH = [
    SourceHealth("Twitter search", "twitter", NOW, NOW, None, 0, 120),
    SourceHealth("Reddit search", "reddit", NOW, NOW - timedelta(days=3), "HTTP 503 Service Unavailable", 7,
                 0),
    SourceHealth("Call center export", "call_center", NOW - timedelta(days=2), NOW - timedelta(days=2), None,
                 0, 40),
]


def digest_summary(period: Period, n: int, *, hostile: float = 0.01) -> Summary:
    """A digest of n mentions (n * 0.8 the period before; a year-ago window for quarterly/annual)."""
    w = periods.last_complete(period, NOW, TZ)
    pw = periods.previous(w)
    cur = f.random_mentions(n, w.start_utc, w.end_utc, seed=1, hostile_share=hostile)
    # a few mentions in other languages (issue 18): the Languages table and the unscored line in data health
    cur["language"] = ["ja" if i % 23 == 0 else "es" if i % 9 == 0 else "en" for i in range(len(cur))]
    ja = (cur["language"] == "ja").to_numpy()
    cur.loc[ja, "sentiment"], cur.loc[ja, "complaint"] = "unscored", False
    prev = f.random_mentions(n * 4 // 5, pw.start_utc, pw.end_utc, seed=2, sentiment_weights=(0.3, 0.4, 0.3))
    year_ago = year_ago_window = None
    if period in ("quarterly", "annual"):
        year_ago_window = periods.year_before(w)
        year_ago = f.random_mentions(n * 7 // 10, year_ago_window.start_utc, year_ago_window.end_utc, seed=3)
    return summarize(cur, prev, w, pw, year_ago=year_ago, year_ago_window=year_ago_window, health=HEALTH,
                     topics=TOPICS, praise_topics={"Crew": ["crew"], "Lounge": ["lounge"]}, brand="Acme Air",
                     now=NOW)


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates()


@pytest.fixture(scope="module")
def rendered(templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A few representative emails written to .html files."""
    out = tmp_path_factory.mktemp("emails")
    start = datetime(2026, 11, 24, 14, tzinfo=TZ)
    examples = f.random_mentions(3, start, start + timedelta(hours=1), sentiment_weights=(1.0, 0.0, 0.0))
    spike = Spike("Acme Air", start, start + timedelta(hours=1), 84, 20.0, ("lost bag", "on hold"),
                  to_quotes(examples, TZ), ("Twitter", "Reddit"), start)
    docs = {
        "weekly": render_digest(digest_summary("weekly", 3000, hostile=0.05), recipient_name="Dana Chief",
                                templates=templates).html,
        "monthly-100k": render_digest(digest_summary("monthly", 100_000), recipient_name="Dana Chief",
                                      templates=templates).html,
        "empty": render_digest(digest_summary("daily", 0), recipient_name="Dana Chief",
                               templates=templates).html,
        "alert": render_alert(spike, templates=templates, recipient_name="On call").html,
    }
    paths = {}
    for name, html in docs.items():
        paths[name] = out / f"{name}.html"
        paths[name].write_text(html, encoding="utf-8")
    return paths


# -- Gmail clipping ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 100_000])
@pytest.mark.parametrize("period", periods.PERIODS)
def test_html_stays_under_gmails_clipping_size(period: Period, n: int, templates: Templates) -> None:
    r = render_digest(digest_summary(period, n), recipient_name="Dana Chief", templates=templates)
    size = len(r.html.encode())
    assert size <= HTML_BUDGET < GMAIL_CLIP, f"{period} with {n} mentions: {size} bytes"


# -- caniemail (../shared/tools/check_email.py) -----------------------------------------------------------


def _check_email(path: Path) -> subprocess.CompletedProcess[str]:
    if not CHECK_EMAIL.is_file():
        skip_unless_ci(f"{CHECK_EMAIL} not found: shared/ must sit beside the repository")
    if shutil.which("node") is None or shutil.which("npm") is None:
        skip_unless_ci("node/npm are not installed (apt-get install nodejs npm): "
                    "check_email.py runs caniemail on node")
    return subprocess.run([sys.executable, str(CHECK_EMAIL), str(path)], capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("name", ["weekly", "empty", "alert"])
def test_caniemail_finds_nothing_gmail_or_outlook_lack(name: str, rendered: dict[str, Path]) -> None:
    result = _check_email(rendered[name])
    report = result.stdout + result.stderr
    problems = [line for line in result.stdout.splitlines()
                if line and not line.startswith(("note:", "email-check:"))]
    assert problems == [], report
    assert re.search(r"^email-check: 0 problems, \d+ bytes html", result.stdout, re.M), report
    assert result.returncode == 0


# -- a real browser ---------------------------------------------------------------------------------------


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    skip_unless_ci("Chromium is not installed (apt-get install chromium): the layout checks need a real browser")


def _run_chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--disable-extensions", "--disable-background-networking", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _widths(email: Path, width: int, work: Path) -> tuple[int, int]:
    """(scrollWidth, clientWidth) of the email laid out in a viewport `width` px wide.

    Headless Chromium will not make a window narrower than 500 px, so the email goes into an iframe of
    the phone's width (its media queries see that width) and a script in the host page measures it.
    """
    host = work / f"host-{email.stem}-{width}.html"
    host.write_text(
        f'<!DOCTYPE html><html><body style="margin:0">'
        f'<iframe id="f" width="{width}" height="20000" style="border:0;display:block" '
        f'srcdoc="{htmllib.escape(email.read_text(encoding="utf-8"), quote=True)}"></iframe>'
        "<script>document.getElementById('f').addEventListener('load', function () {"
        "var d = this.contentDocument.documentElement, p = document.createElement('pre');"
        "p.id = 'result'; p.textContent = d.scrollWidth + ' ' + d.clientWidth; document.body.appendChild(p);"
        "});</script></body></html>", encoding="utf-8")
    r = _run_chromium(["--window-size=800,2000", "--virtual-time-budget=5000", "--dump-dom", host.as_uri()],
                      work / "profile")
    m = re.search(r'<pre id="result">(\d+) (\d+)</pre>', r.stdout)
    assert m, f"no measurement from Chromium: {r.stderr[-500:]}"
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("width", [600, 375, 320])
@pytest.mark.parametrize("name", ["weekly", "monthly-100k", "empty", "alert"])
def test_no_horizontal_overflow(name: str, width: int, rendered: dict[str, Path], tmp_path: Path) -> None:
    scroll, client = _widths(rendered[name], width, tmp_path)
    assert client >= width - 20  # the iframe really was that wide (less a scrollbar)
    assert scroll <= client, f"{name} at {width}px: content is {scroll}px wide in a {client}px viewport"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


@pytest.mark.parametrize("width", [600, 375])
def test_screenshot(width: int, rendered: dict[str, Path], tmp_path: Path) -> None:
    """Screenshots for a person to look at: kept in $DIGEST_SCREENSHOTS when set."""
    shot = tmp_path / f"weekly-{width}.png"
    r = _run_chromium([f"--window-size={width},2400", f"--screenshot={shot}", rendered["weekly"].as_uri()],
                      tmp_path / "profile")
    assert shot.is_file(), r.stderr[-500:]
    assert _png_size(shot) == (width, 2400)
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few KB
    keep = os.environ.get("DIGEST_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
