"""A steady-state ingest cycle over many loopback feeds, 5% of them changed, against re-fetching everything.

    python bench/bench_steady_state.py [--quick] [--feeds N] [--items N] [--changed F] [--server S]

A web server on 127.0.0.1 serves N RSS feeds (default 1,000 of 20 items) as static files with ETag and
Last-Modified, answering a matching conditional GET with 304, as feed servers do: nginx when it is
installed (`apt-get install nginx-light`), as real feed servers are, else Python's ThreadingHTTPServer
in a process of its own. Python's server spends more CPU on a request than the client (about half a
millisecond, on the same two cores), so with it the steady-state figure measures mostly the server;
the output names the server used. After a first ingest
into a fresh SQLite store, F (default 5%) of the feeds get two new items and `pipeline.ingest` runs
again: a steady-state cycle (conditional GET: unchanged feeds cost a 304, a changed one is parsed and
only its new entries stored). The baseline is the same cycle without what the store remembers of each
feed (no validators, no body hashes): every feed fetched, parsed and classified again, as a tool without
that state must. Prints both times and the ratio (target >= 10x).
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import sqlalchemy as sa  # noqa: E402

from digest import pipeline  # noqa: E402
from digest.config import Config, load_config  # noqa: E402
from digest.sample import write_sample  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.store.schema import sources  # noqa: E402

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Feeds:
    """The feeds the server serves; `change` adds items to some of them."""

    def __init__(self, n: int, items: int, texts: list[str], entry_bytes: int, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.texts = texts
        self.entry_bytes = entry_bytes
        self.items: list[list[tuple[str, str, str, datetime]]] = [[] for _ in range(n)]
        self.bodies: list[tuple[bytes, str, str]] = [(b"", "", "")] * n
        self.lock = threading.Lock()
        self.served = {200: 0, 304: 0}
        self._serial = 0
        for i in range(n):
            for _ in range(items):
                self._add(i)
            self._render(i)

    def _add(self, i: int) -> None:
        self._serial += 1
        text = f"{self.rng.choice(self.texts)} (feed {i} post {self._serial})"
        # the post's HTML, as feeds carry it: the text, then more paragraphs up to entry_bytes
        html = f"<p>{escape(text)}</p>"
        while len(html) < self.entry_bytes:
            html += (f'<p>{escape(self.rng.choice(self.texts))} <a href="https://feeds.example/{i}/{self._serial}'
                     f'/{len(html)}">more</a></p>')
        when = NOW - timedelta(minutes=self.rng.randrange(1, 60 * 24 * 6))
        self.items[i].insert(0, (f"https://feeds.example/{i}/{self._serial}", text, html, when))

    def _render(self, i: int) -> None:
        entries = "".join(
            f"<item><title>{escape(text[:60])}</title><link>{link}</link><guid>{link}</guid>"
            f"<description>{escape(html)}</description><pubDate>{format_datetime(when, usegmt=True)}</pubDate></item>"
            for link, text, html, when in self.items[i][:50])
        body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {i}</title>'
                f"<link>https://feeds.example/{i}</link><description>bench</description>{entries}</channel></rss>")
        data = body.encode()
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        self.bodies[i] = (data, etag, format_datetime(NOW + timedelta(seconds=self._serial), usegmt=True))

    def change(self, fraction: float) -> int:
        """Add two items to `fraction` of the feeds; return how many feeds changed."""
        chosen = self.rng.sample(range(len(self.items)), max(1, round(len(self.items) * fraction)))
        with self.lock:
            for i in chosen:
                self._add(i)
                self._add(i)
                self._render(i)
        return len(chosen)


def serve(feeds: Feeds) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            i = int(self.path.rsplit("/", 1)[-1].split(".")[0])
            with feeds.lock:
                body, etag, modified = feeds.bodies[i]
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with feeds.lock:
                    feeds.served[304] += 1
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", modified)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            with feeds.lock:
                feeds.served[200] += 1

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            pass

    class Server(ThreadingHTTPServer):
        # socketserver's default listen backlog of 5 drops connections beyond it, which then wait for the
        # client's SYN retransmit (a second): a real server's backlog is in the hundreds
        request_queue_size = 1024

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_server(n: int, items: int, texts: list[str], entry_bytes: int, control: Connection) -> None:
    """The feed server's process: serve, and obey ("change", fraction), ("served",) and ("stop",)."""
    feeds = Feeds(n, items, texts, entry_bytes)
    server = serve(feeds)
    control.send(server.server_address[1])
    while True:
        command = control.recv()
        if command[0] == "change":
            control.send(feeds.change(command[1]))
        elif command[0] == "served":
            with feeds.lock:
                control.send(dict(feeds.served))
        else:
            server.shutdown()
            control.send("stopped")
            return


class Remote:
    """The feed server process, seen from the benchmark."""

    def __init__(self, n: int, items: int, texts: list[str], entry_bytes: int) -> None:
        self.control, theirs = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=run_server, args=(n, items, texts, entry_bytes, theirs), daemon=True)
        self.process.start()
        self.port: int = self.control.recv()
        self.served: dict[int, int] = {200: 0, 304: 0}

    def ask(self, *command: object) -> Any:
        self.control.send(command)
        return self.control.recv()

    def stop(self) -> None:
        self.ask("stop")
        self.process.join(10)


class Nginx:
    """The feeds as static files served by nginx (same interface as Remote)."""

    def __init__(self, n: int, items: int, texts: list[str], entry_bytes: int, root: Path, binary: str) -> None:
        self.feeds = Feeds(n, items, texts, entry_bytes)
        self.dir = root / "nginx"
        (self.dir / "www" / "feed").mkdir(parents=True)
        (self.dir / "logs").mkdir()
        for i in range(n):
            self._write(i)
        with socket.socket() as probe:  # a free port (nginx is told it; the race with other programs is harmless)
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        conf = self.dir / "nginx.conf"
        conf.write_text(f"""
daemon off;
worker_processes 1;
user root;
pid {self.dir}/nginx.pid;
error_log {self.dir}/logs/error.log;
events {{ worker_connections 4096; }}
http {{
    log_format status '$status';
    access_log {self.dir}/logs/access.log status;
    client_body_temp_path {self.dir}/tmp;
    keepalive_requests 100000;
    types {{ application/rss+xml xml; }}
    server {{ listen 127.0.0.1:{self.port}; root {self.dir}/www; etag on; }}
}}
""", encoding="utf-8")
        self.process = subprocess.Popen([binary, "-p", str(self.dir), "-c", str(conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    why = (self.process.communicate()[1] or b"").decode()
                    raise SystemExit(f"nginx did not start: {why}") from None
                time.sleep(0.05)

    def _write(self, i: int) -> None:
        path = self.dir / "www" / "feed" / f"{i}.xml"
        path.write_bytes(self.feeds.bodies[i][0])
        # a new mtime for every version (nginx's ETag is mtime and size), as a publishing system gives
        os.utime(path, ns=(time.time_ns(), time.time_ns()))

    def ask(self, *command: object) -> Any:
        if command[0] == "change":
            before = [body for body, _, _ in self.feeds.bodies]
            changed = self.feeds.change(float(command[1]))  # type: ignore[arg-type]
            for i, (body, _, _) in enumerate(self.feeds.bodies):
                if body is not before[i]:
                    self._write(i)
            return changed
        if command[0] == "served":
            lines = (self.dir / "logs" / "access.log").read_text().split()
            return {200: lines.count("200"), 304: lines.count("304")}
        raise ValueError(command)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def sample_texts(root: Path) -> list[str]:
    """Realistic post texts: the offline sample's social feed."""
    import feedparser

    write_sample(root, NOW, days=60)
    parsed = feedparser.parse((root / "examples" / "generated" / "social.xml").read_bytes())
    return [str(e.get("title", "")) for e in parsed.entries if e.get("title")]


def write_config(root: Path, port: int, n: int) -> None:
    lines = ["brand:", "  name: Acme Air", "timezone: America/New_York", "sources:"]
    for i in range(n):
        lines += [f"  - name: feed {i}", "    kind: feed", f"    url: http://127.0.0.1:{port}/feed/{i}.xml",
                  "    channel: twitter", "    brand_filter: false"]
    lines += ["topics:", "  Baggage: [bag, luggage]", "  Delays: [delay, late, cancel]", "  Billing: [refund]"]
    (root / "sources.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "recipients.yaml").write_text('sender: "Digest <digest@acme.example>"\ntimezone: America/New_York\n'
                                          "recipients:\n  - name: Dana\n    email: dana@acme.example\n"
                                          "    digests: [daily]\n", encoding="utf-8")


def cycle(config: Config, store: Store, feeds: Remote | Nginx, workers: int | None = None
          ) -> tuple[float, int, dict[int, int], dict[str, int]]:
    """One ingest (as `digest serve` runs them, the configuration loaded once): (seconds, new mentions,
    responses by status, results by status)."""
    before = feeds.ask("served")
    started = time.perf_counter()
    report = pipeline.ingest(config, store, now=NOW, workers=workers)
    seconds = time.perf_counter() - started
    statuses: dict[str, int] = {}
    for r in report.results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    if statuses.get("error"):
        failed = next(r for r in report.results if r.status == "error")
        raise SystemExit(f"{statuses['error']} feeds failed, e.g. {failed.name}: {failed.error}")
    after = feeds.ask("served")
    return seconds, report.new_mentions, {k: v - before[k] for k, v in after.items()}, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 feeds of 10 items (smoke test)")
    parser.add_argument("--feeds", type=int)
    parser.add_argument("--items", type=int)
    parser.add_argument("--entry-bytes", type=int, default=1900,
                        help="HTML per entry (default: the median of the real captures in ../shared/data/feeds)")
    parser.add_argument("--changed", type=float, default=0.05, help="share of feeds changed between cycles")
    parser.add_argument("--cycles", type=int, default=3,
                        help="steady-state cycles (and full re-fetches) to take the median of")
    parser.add_argument("--workers", type=int, help="ingest worker processes (default: one per core)")
    parser.add_argument("--server", choices=("auto", "nginx", "python"), default="auto",
                        help="the feed server (auto: nginx if installed)")
    args = parser.parse_args()
    n = args.feeds or (60 if args.quick else 1000)
    items = args.items or (10 if args.quick else 20)
    with tempfile.TemporaryDirectory(prefix="bench-steady-") as tmp:
        root = Path(tmp)
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if args.server == "nginx" and not nginx:
            raise SystemExit("nginx is not installed (apt-get install nginx-light)")
        texts = sample_texts(root)
        feeds: Remote | Nginx
        if nginx and args.server != "python":
            feeds, server = Nginx(n, items, texts, args.entry_bytes, root, nginx), "nginx"
        else:
            feeds, server = Remote(n, items, texts, args.entry_bytes), "Python's ThreadingHTTPServer"
        write_config(root, feeds.port, n)
        store = Store.open(f"sqlite:///{root / 'digest.sqlite3'}")
        config = load_config(root)
        try:
            t_first, new_first, _, _ = cycle(config, store, feeds, args.workers)
            steady = []  # several cycles, for the median: one cycle is short enough for noise to matter
            for _ in range(args.cycles):
                changed = feeds.ask("change", args.changed)
                steady.append(cycle(config, store, feeds, args.workers))
            t_steady, new_steady, served_steady, st_steady = sorted(steady, key=lambda c: c[0])[len(steady) // 2]
            full = []  # the baseline as often, for its median: it is as noisy as the cycles
            for _ in range(args.cycles):
                feeds.ask("change", args.changed)
                with store.engine.begin() as conn:  # forget every validator, body hash and entry
                    conn.execute(sa.update(sources).values(state="{}"))
                full.append(cycle(config, store, feeds, args.workers))
            t_full, new_full, served_full, _ = sorted(full, key=lambda c: c[0])[len(full) // 2]
        finally:
            store.close()
            feeds.stop()
    print(f"feeds: {n:,} on loopback ({server}), {items} items of {args.entry_bytes:,} bytes of HTML each; "
          f"{changed} ({changed / n:.0%}) changed between cycles")
    print(f"first ingest (fresh store): {t_first:6.2f} s, {new_first:,} mentions stored")
    print(f"steady-state cycles: {', '.join(f'{c[0]:.2f}' for c in steady)} s; the median:")
    print(f"steady-state cycle: {t_steady:6.2f} s  ({served_steady[304]:,} x 304 not modified, "
          f"{served_steady[200]:,} x 200; {st_steady.get('not_modified', 0):,} sources not modified; "
          f"{new_steady:,} new mentions)")
    print(f"full re-fetches: {', '.join(f'{c[0]:.2f}' for c in full)} s; the median:")
    print(f"full re-fetch and re-parse of every feed: {t_full:6.2f} s  ({served_full[200]:,} x 200; "
          f"{new_full:,} new mentions)")
    print(f"ratio: steady-state cycle is {t_full / t_steady:.1f}x faster than re-fetching everything (target >= 10x)")


if __name__ == "__main__":
    main()
