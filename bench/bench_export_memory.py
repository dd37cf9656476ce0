"""Peak memory of `digest ingest` on a large call-center CSV export, against a small one measured in the same run.

    python bench/bench_export_memory.py [--quick] [--rows N] [--baseline N]

Writes a CSV export of N rows (default 200,000; a ticket id, a time, agent, category, status and notes that
span lines, quote and use commas, as ticketing exports do) and runs `python -m digest ingest` on it in a
fresh process, three times: the baseline (a store of its own, a file of --baseline rows, default 20,000),
the first ingest of the large file, then the large file exported again with one new row at its end (the
same path rewritten). Each is measured while it runs: the peak resident memory of its largest process
(ru_maxrss of RUSAGE_CHILDREN, from a process of its own: the ingesting process or one of its forked
workers) and the peak of the whole process tree (the sum of the processes' proportional set size, pages
shared between the forked workers counted once, sampled every 50 ms). Prints both, the time, what the
ingest reported, and the ratios to the baseline (target: roughly flat in rows, and the re-export with one
new row close to the baseline).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

NOW = datetime.now(UTC).replace(microsecond=0)
AGENTS = ("Ana Ruiz", "Ben Okafor", "Chloé Martin", "Dev Patel", "Eun-ji Kim", "Farah Haddad", "Gus O'Neill")
CATEGORIES = ("Baggage", "Refunds", "Billing", "Delays", "Booking", "Loyalty", "Seats", "Compliment")
STATUSES = ("open", "pending", "solved", "closed", "on-hold", "new")
OPENERS = (
    "Customer called about flight {flight} from {city}.",
    "Caller (frequent flyer, gold) re: booking {ref}.",
    "Inbound call, transferred from IVR option 3, booking {ref}.",
    "Chat escalated to phone; flight {flight} on {day}.",
)
ISSUES = (
    "Bag did not arrive in {city}; tag {tag}. Second call about it, still no update from the baggage desk.",
    "Charged twice for a seat upgrade, ${amount} each time. Wants the duplicate refunded.",
    "Flight delayed {hours} hours, missed the connection, no hotel voucher offered at the gate.",
    'Says the agent at check-in was "rude and dismissive", wants a formal apology.',
    "Refund for the cancelled flight promised {days} days ago, nothing received yet.",
    "Could not choose seats online, the app kept crashing at the payment step.",
    "Thanked the crew on {flight}: very kind with her elderly father, wanted it passed on.",
    "Asked how to add a checked bag to an existing booking, and what it costs.",
    "Loyalty points from the {city} trip missing, {amount} points, booking {ref}.",
)
CLOSERS = (
    "Agent apologised and opened a claim.",
    "Promised a call back within 48 hours.",
    "Customer not satisfied, asked for a supervisor; escalated.",
    "Resolved on the call, refund issued.",
    "",
)
CITIES = ("Boston", "Denver", "Lisbon", "São Paulo", "Tokyo", "Chicago", "Madrid", "Toronto")


def write_export(path: Path, rows: int, seed: int, extra: int = 0) -> None:
    """`rows` seeded tickets (then `extra` more, seeded apart, so that the first `rows` are the same in any file)."""
    rng = random.Random(seed)
    more = random.Random(seed + 1_000_003)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ticket_id", "created_at", "agent", "category", "status", "notes"])
        for i in range(rows + extra):
            r = rng if i < rows else more
            w.writerow(_row(r, i, seed))


def _row(r: random.Random, i: int, seed: int) -> list[str]:
    values = {"flight": f"AC{r.randint(100, 2999)}", "city": r.choice(CITIES), "ref": f"{r.randrange(16**6):06X}",
              "day": f"{r.randint(1, 28)}/{r.randint(1, 12)}", "tag": f"AC{r.randint(100000, 999999)}",
              "amount": f"{r.randint(20, 900)}", "hours": r.randint(2, 9), "days": r.randint(5, 60)}
    lines = [r.choice(OPENERS).format(**values)]
    lines += [r.choice(ISSUES).format(**values) for _ in range(r.randint(1, 3))]
    closer = r.choice(CLOSERS)
    if closer:
        lines.append(closer)
    created = NOW - timedelta(days=60) + timedelta(seconds=r.randint(0, 59 * 86400))
    return [f"T{seed}-{i:07d}", created.strftime("%Y-%m-%d %H:%M:%S"), r.choice(AGENTS), r.choice(CATEGORIES),
            r.choice(STATUSES), "\n".join(lines)]


def write_config(directory: Path, export: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sources.yaml").write_text(
        "brand:\n  name: Acme Air\ntimezone: America/New_York\nsources:\n"
        f"  - name: calls\n    kind: csv\n    path: {export}\n    channel: call_center\n    brand_filter: false\n"
        "    fields:\n      id: ticket_id\n      text: notes\n      published: created_at\n"
        "      title: category\n      author: agent\n      status: status\n"
        "topics:\n  Baggage: [bag, luggage]\n  Delays: [delay, delayed, connection]\n"
        "  Billing: [refund, charged, points]\n  Staff: [rude, agent]\n", encoding="utf-8")
    (directory / "recipients.yaml").write_text(
        'sender: "Digest <digest@acme.example>"\ntimezone: America/New_York\nrecipients:\n'
        "  - name: Dana\n    email: dana@acme.example\n    digests: [daily]\n", encoding="utf-8")


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants now."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return out


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def ingest(config_dir: Path, db: Path) -> dict[str, object]:
    """`python -m digest ingest` in a fresh process: seconds, peak RSS of its largest process and of its tree (MiB)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DB=f"sqlite:///{db}", PYTHONPATH=str(ROOT))
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "digest", "--config", str(config_dir), "ingest"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak_tree = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_tree
        while not done.is_set():
            peak_tree = max(peak_tree, sum(_pss_kib(p) for p in _tree(proc.pid)))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 3):  # 3: ok but partial (rows skipped), still a measurement
        raise SystemExit(f"digest ingest exited {proc.returncode}:\n{out}\n{err}")
    summary = out.strip().splitlines()[-1] if out.strip() else ""
    return {"seconds": seconds, "tree": peak_tree / 1024, "summary": summary}


def measure(config_dir: Path, db: Path) -> dict[str, object]:
    """`ingest` run from a process of its own, so that RUSAGE_CHILDREN holds this ingest's processes only."""
    code = ("import json, resource, sys; sys.path.insert(0, sys.argv[1]); import bench_export_memory as b; "
            "from pathlib import Path; m = b.ingest(Path(sys.argv[2]), Path(sys.argv[3])); "
            "m['largest'] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024; print(json.dumps(m))")
    done = subprocess.run([sys.executable, "-c", code, str(ROOT / "bench"), str(config_dir), str(db)],
                          capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def show(label: str, m: dict[str, object]) -> None:
    print(f"{label}: {m['seconds']:7.1f} s, peak RSS {m['largest']:6,.0f} MiB (largest process), "
          f"{m['tree']:6,.0f} MiB (process tree, PSS); {m['summary']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 and 600 rows (smoke test)")
    parser.add_argument("--rows", type=int, help="rows in the large export (default 200,000)")
    parser.add_argument("--baseline", type=int, help="rows in the baseline export (default 20,000)")
    args = parser.parse_args()
    rows = args.rows or (6_000 if args.quick else 200_000)
    small = args.baseline or rows // 10
    with tempfile.TemporaryDirectory(prefix="bench-export-memory-") as tmp:
        root = Path(tmp)
        for name in ("small", "large"):
            (root / name / "exports").mkdir(parents=True)
            write_config(root / name, "exports/calls.csv")
        write_export(root / "small" / "exports" / "calls.csv", small, seed=1)
        big = root / "large" / "exports" / "calls.csv"
        write_export(big, rows, seed=2)
        size = big.stat().st_size
        base = measure(root / "small", root / "small.sqlite3")
        first = measure(root / "large", root / "large.sqlite3")
        write_export(big, rows, seed=2, extra=1)  # the same tickets exported again, and one new
        again = measure(root / "large", root / "large.sqlite3")
    print(f"export: {rows:,} rows, {size / 2**20:.0f} MiB of CSV (multi-line notes); baseline {small:,} rows; "
          f"{os.cpu_count()} cores")
    show(f"baseline, first ingest of {small:,} rows", base)
    show(f"first ingest of {rows:,} rows", first)
    show(f"re-export of {rows:,} rows with one new row", again)
    for label, m in ((f"{rows // small}x the rows", first), ("re-export with one new row", again)):
        print(f"ratio, {label} / baseline: largest process {float(m['largest']) / float(base['largest']):.2f}x, "  # type: ignore[arg-type]
              f"process tree {float(m['tree']) / float(base['tree']):.2f}x")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
