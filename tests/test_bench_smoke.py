"""Every benchmark under bench/ runs in its --quick mode and prints its figures (no timing thresholds here:
timings belong to the benchmarks, whose figures the README quotes)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from .conftest import ROOT

NUMBER = r"[\d,]+(?:\.\d+)?"
EXPECTED = {
    "bench_ingest.py": [
        rf"floor: feedparser\.parse \+ TextBlob\(text\)\.sentiment, one process: +{NUMBER} s +{NUMBER} entries/s",
        rf"digest ingest into SQLite, 1 process: +{NUMBER} s +{NUMBER} entries/s +ratio {NUMBER}x",
        rf"digest ingest into SQLite, \d+ cores: +{NUMBER} s +{NUMBER} entries/s +ratio {NUMBER}x",
    ],
    "bench_export_memory.py": [
        rf"first ingest of 6,000 rows: +{NUMBER} s, peak RSS +{NUMBER} MiB \(largest process\), +{NUMBER} MiB "
        r"\(process tree, PSS\); 1 source: 1 ok, 0 not modified, 0 failed · 6000 new mentions",
        rf"re-export of 6,000 rows with one new row: +{NUMBER} s, .* · 1 new mention\n",
        rf"ratio, 10x the rows / baseline: largest process {NUMBER}x, process tree {NUMBER}x",
        rf"ratio, re-export with one new row / baseline: largest process {NUMBER}x, process tree {NUMBER}x",
    ],
    "bench_steady_state.py": [
        rf"steady-state cycle: +{NUMBER} s +\(57 x 304 not modified, 3 x 200; 57 sources not modified; 6 new",
        rf"full re-fetch and re-parse of every feed: +{NUMBER} s +\(60 x 200; 6 new mentions\)",
        rf"ratio: steady-state cycle is {NUMBER}x faster",
    ],
    "bench_annual.py": [
        rf"annual digest, rollups, 5,000 stored: +{NUMBER} s, peak RSS +{NUMBER} MiB",
        rf"annual digest, raw rows in DataFrames, 5,000 stored: +{NUMBER} s, peak RSS +{NUMBER} MiB",
        rf"annual digest, rollups, 20,000 stored: +{NUMBER} s, peak RSS +{NUMBER} MiB .*mentions in the year",
        rf"ratio at 5,000: rollups {NUMBER}x faster",
    ],
    "bench_summarize.py": [
        rf"summarize 20,000 mentions \(16,000 before\), median of 1: {NUMBER} s +{NUMBER} mentions/s",
        rf"ratio: the 0\.6 s budget / the time = {NUMBER}x \(above 1: within it\)",
    ],
    "bench_send.py": [
        rf"sent 20 through SMTP on loopback in {NUMBER} s .*the server accepted 20; 0 with another recipient's",
        r"renders: 3 for 3 different digests \(20 recipients\)",
        rf"baseline, one render per recipient: {NUMBER} ms each",
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_benchmark_runs_quick_and_prints_its_figures(script: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--quick"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    for pattern in EXPECTED[script]:
        assert re.search(pattern, done.stdout), f"{pattern!r} not in:\n{done.stdout}"
    assert "Traceback" not in done.stderr
