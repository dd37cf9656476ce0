"""The tests that read the real clock, run at the instants where a real clock breaks them; the property tests
with fresh seeds.

    python bench/clock_sweep.py [--at 2027-01-01T11:45:00 ...] [FILES...]   # needs faketime (libfaketime)
    python bench/clock_sweep.py --seeds 50

Each instant (UTC) runs the test files under `faketime` with an offset from the real clock, not `@instant`:
with `@`, every subprocess a test starts (`python -m digest`, the xdist workers) starts again at the
instant, behind its parent. The default instants are the edges of the shipped recipients.yaml (New York
06:30 and 07:00, Tokyo 08:00, all periods cut in New York or Tokyo): each midnight, Monday, month, quarter
and year ends, and both New York daylight-saving changes. `--seeds N` runs the @given tests N times, each
with a fresh `--hypothesis-seed` (CI derandomizes them instead: tests/conftest.py). Prints one line a run.
Known artefact: threading.Timer never fires under libfaketime (test_faults' locked-database test).
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTANTS = {  # UTC instant: what it is for the fixture recipients
    "2026-12-03T11:45:00": "Thu 06:45 New York: the 06:30 daily is due, the 07:00 one not yet",
    "2026-12-04T00:05:00": "UTC midnight (19:05 New York)",
    "2026-12-04T05:05:00": "New York midnight",
    "2026-12-03T15:05:00": "Tokyo midnight",
    "2026-12-06T23:05:00": "Monday 08:05 Tokyo: the Tokyo weekly is due, Sunday evening in New York",
    "2026-12-07T00:30:00": "Monday 00:30 UTC",
    "2026-12-07T11:45:00": "Monday 06:45 New York",
    "2026-12-31T23:56:00": "year end in UTC, New Year 08:56 in Tokyo",
    "2027-01-01T11:45:00": "New Year 06:45 New York: every period ends, half of them due",
    "2027-03-14T06:45:00": "New York spring-forward day, 01:45 EST",
    "2026-11-01T05:45:00": "New York fall-back day, 01:45 EDT",
}
CLOCK_FILES = [f"tests/{name}.py" for name in (
    "test_send", "test_send_ahead", "test_cadence", "test_alerts", "test_alerts_unanswered", "test_hostile",
    "test_schedule", "test_cli_output", "test_sample_quotes", "test_sources_sample", "test_bad_dates",
    "test_docs", "test_silent_sources", "test_replies", "test_rollups", "test_secrets", "test_languages",
    "test_progress")]
GIVEN_FILES = ["tests/test_analyze.py", "tests/test_classify.py", "tests/test_config.py", "tests/test_phrases.py",
               "tests/test_properties.py"]


def pytest(args: list[str], prefix: Sequence[str] = ()) -> tuple[int, str, float]:
    """Run pytest in the checkout; return its exit code, its last line and the seconds it took."""
    started = time.monotonic()
    proc = subprocess.run([*prefix, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines() or [""]
    failed = [line for line in lines if line.startswith("FAILED")]
    return proc.returncode, " | ".join(failed + lines[-1:]), time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", help=f"test files (default: {len(CLOCK_FILES)} that read the clock)")
    parser.add_argument("--at", action="append", metavar="UTC", help="an instant, e.g. 2027-01-01T11:45:00")
    parser.add_argument("--seeds", type=int, metavar="N", help="run the @given tests N times with fresh seeds")
    parser.add_argument("-n", default="2", help="pytest-xdist workers (default 2)")
    opts = parser.parse_args()
    bad = 0
    if opts.seeds:
        for i in range(opts.seeds):
            seed = random.randrange(2**32)
            code, last, took = pytest(["-n", "0", "-m", "hypothesis", f"--hypothesis-seed={seed}", *GIVEN_FILES])
            bad += code != 0
            print(f"seed {i + 1}/{opts.seeds} {seed}: exit {code} in {took:.0f} s: {last}", flush=True)
        return 1 if bad else 0
    if shutil.which("faketime") is None:
        print("faketime not found (apt-get install faketime)", file=sys.stderr)
        return 2
    for at in opts.at or list(INSTANTS):
        offset = round(datetime.fromisoformat(at).replace(tzinfo=UTC).timestamp() - time.time())
        code, last, took = pytest(["-n", opts.n, *(opts.files or CLOCK_FILES)],
                                  ["faketime", "-f", f"{offset:+d}"])  # "+N"/"-N" seconds from the real clock
        bad += code != 0
        print(f"{at} UTC ({INSTANTS.get(at, 'given')}): exit {code} in {took:.0f} s: {re.sub(r'=+', '', last)}",
              flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
