"""A thousand recipients through a real SMTP server on loopback: time, and how many digests were rendered.

    python bench/bench_send.py [--quick] [--recipients N]

Ingests the offline sample, writes a recipients.yaml of N people (default 1,000) who all take the
weekly digest -- most of them every channel, every 10th only the call center, every 7th Twitter and
Reddit: three different digests -- and runs `pipeline.send_period` against an aiosmtpd server on
127.0.0.1, as `digest send weekly` does. Prints the time (target: < 60 s for 1,000), the messages the
server accepted, and how many times a digest was rendered (identical digests are rendered once and
only the recipient's name filled in per message), beside what rendering once per recipient costs,
measured in the same run. Every message is checked to carry its own recipient's name and address.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from aiosmtpd.controller import Controller  # noqa: E402

import digest.pipeline  # noqa: E402
import digest.render  # noqa: E402
from digest import periods  # noqa: E402
from digest.config import load_config, smtp_settings  # noqa: E402
from digest.mailer import SmtpMailer  # noqa: E402
from digest.render import Templates  # noqa: E402
from digest.sample import write_sample  # noqa: E402
from digest.store import Store  # noqa: E402

NOW = datetime.now(UTC)


class Received:
    """aiosmtpd handler: keeps every message's bytes."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_recipients(root: Path, n: int) -> dict[str, str]:
    """recipients.yaml with n weekly recipients; returns email -> name."""
    people = {}
    lines = ['sender: "Customer Voice <digest@acme.example>"', "timezone: America/New_York", 'send_at: "07:00"',
             "recipients:"]
    for i in range(n):
        name, email = f"Reader {i:04d} O'Neil", f"reader{i:04d}@acme.example"
        people[email] = name
        lines += [f'  - name: "{name}"', f"    email: {email}", "    digests: [weekly]"]
        if i % 10 == 9:
            lines.append("    channels: [call_center]")
        elif i % 7 == 6:
            lines.append("    channels: [twitter, reddit]")
    (root / "recipients.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return people


class Counting:
    """Wraps render_digest where the pipeline and the renderer call it, counting the calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.original = digest.render.render_digest

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.original(*args, **kwargs)

    def __enter__(self) -> Counting:
        digest.render.render_digest = self  # type: ignore[assignment]
        digest.pipeline.render_digest = self  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        digest.render.render_digest = self.original
        digest.pipeline.render_digest = self.original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 recipients (smoke test)")
    parser.add_argument("--recipients", type=int)
    args = parser.parse_args()
    n = args.recipients or (20 if args.quick else 1000)
    with tempfile.TemporaryDirectory(prefix="bench-send-") as tmp:
        root = Path(tmp)
        for name in ("sources.yaml",):
            (root / name).write_text((ROOT / name).read_text(encoding="utf-8"), encoding="utf-8")
        write_sample(root, NOW, days=60)
        people = write_recipients(root, n)
        config = load_config(root)
        store = Store.open(f"sqlite:///{root / 'digest.sqlite3'}")
        report = digest.pipeline.ingest(config, store, now=NOW)
        handler = Received()
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            settings = smtp_settings({"DIGEST_SMTP_HOST": "127.0.0.1", "DIGEST_SMTP_PORT": str(port),
                                      "DIGEST_SMTP_TLS": "none"})
            assert settings is not None
            templates = Templates()
            # the baseline, measured here: one render per recipient, as without the shared render
            window = periods.last_complete("weekly", NOW, config.tz)
            summary = digest.pipeline.summarize_window(config, store, window, None, now=NOW)
            digest.render.render_digest(summary, recipient_name="warm-up", templates=templates)
            sample = min(n, 20)
            started = time.perf_counter()
            for i in range(sample):
                digest.render.render_digest(summary, recipient_name=f"Reader {i:04d}", templates=templates)
            per_render = (time.perf_counter() - started) / sample
            with Counting() as renders:
                started = time.perf_counter()
                deliveries = digest.pipeline.send_period(config, store, SmtpMailer(settings), "weekly", at=NOW,
                                                         templates=templates)
                seconds = time.perf_counter() - started
        finally:
            controller.stop()
            store.close()
    sent = sum(1 for d in deliveries if d.status == "sent")
    failed = [d for d in deliveries if d.status != "sent"]
    if failed:
        raise SystemExit(f"{len(failed)} not sent, e.g. {failed[0].recipient}: {failed[0].detail}")
    wrong = 0
    for rcpts, data in handler.messages:
        msg = message_from_bytes(data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        body = msg.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        if rcpts != [str(msg["To"].addresses[0].addr_spec)] or people[rcpts[0]] not in text:
            wrong += 1
    distinct = len({(tuple(r.channels) if r.channels else None) for r in config.recipients.recipients})
    print(f"ingested {report.new_mentions:,} sample mentions; {n:,} recipients of the weekly digest, "
          f"{distinct} different digests (channel filters)")
    print(f"sent {sent:,} through SMTP on loopback in {seconds:.2f} s ({sent / seconds:,.0f} messages/s); "
          f"the server accepted {len(handler.messages):,}; {wrong} with another recipient's name or address")
    print(f"renders: {renders.calls} for {distinct} different digests ({n:,} recipients)")
    print(f"baseline, one render per recipient: {per_render * 1000:.0f} ms each, about {per_render * n:.1f} s for "
          f"{n:,}; the shared render saves {max(0.0, per_render * (n - renders.calls)):.1f} s "
          f"({(seconds + per_render * (n - renders.calls)) / seconds:.1f}x the send time)")


if __name__ == "__main__":
    main()
