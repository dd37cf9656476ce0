"""Thin command line: parse, call the library, turn errors into one line on stderr and an exit status."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import tempfile
import webbrowser
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from . import periods
from .config import Config, config_dir, load_config, outbox_dir, smtp_settings
from .errors import ConfigError, DigestError, ExitStatus
from .mailer import Mailer, OutboxMailer, SmtpMailer
from .models import IngestReport
from .periods import PERIODS, Period

# The pipeline, the store and the renderer bring pandas, SQLAlchemy, TextBlob and Jinja (most of a second):
# each command imports what it uses, so `digest --help` and `digest check` start at once.
if TYPE_CHECKING:
    from . import alerts, pipeline
    from .render import Templates
    from .store import Store

log = logging.getLogger("digest")


@dataclasses.dataclass
class Context:
    config_dir: Path
    db: str | None
    traceback: bool
    quiet: bool = False  # -q: only problems and one summary line (cron appends stdout to a log)

    def config(self) -> Config:
        config = load_config(self.config_dir)
        for line in config.warnings:
            log.warning("%s", line)
        return config

    def store(self) -> Store:
        from .store import Store, default_url
        return Store.open(self.db or os.environ.get("DIGEST_DB") or default_url(self.config_dir),
                          busy_timeout=_busy_timeout(os.environ))

    def templates(self) -> Templates:
        from .render import Templates
        user = self.config_dir / "templates"
        return Templates(user if user.is_dir() else None)

    def mailer(self) -> Mailer:
        settings = smtp_settings(os.environ)
        if settings is None:
            return OutboxMailer(outbox_dir(self.config_dir, os.environ))
        return SmtpMailer(settings)


def _busy_timeout(env: Mapping[str, str]) -> float:
    """DIGEST_DB_BUSY_TIMEOUT: seconds a SQLite write waits for another process's lock (default 30)."""
    raw = env.get("DIGEST_DB_BUSY_TIMEOUT", "").strip()
    if not raw:
        from .store import BUSY_TIMEOUT
        return BUSY_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise ConfigError([f"DIGEST_DB_BUSY_TIMEOUT: {raw!r} must be a number of seconds from 0 to 3600"])
    return value


pass_ctx = click.make_pass_decorator(Context)
period_arg = click.argument("period", type=click.Choice(PERIODS))
date_opt = click.option("--date", "date_", metavar="D",
                        help="Report as of this date (YYYY-MM-DD or ISO datetime) instead of now.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_", metavar="DIR", help="Folder of sources.yaml and recipients.yaml "
              "[env DIGEST_CONFIG; default: current folder].")
@click.option("--db", metavar="URL", help="SQLAlchemy URL of the store [env DIGEST_DB; default: "
              "digest.sqlite3 beside the configuration].")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only problems and one summary line (for cron).")
@click.option("--traceback", is_flag=True, hidden=True, help="Show tracebacks (for bug reports).")
@click.version_option(package_name="customer-voice-digest")
@click.pass_context
def cli(ctx: click.Context, config_: str | None, db: str | None, verbose: int, quiet: bool, traceback: bool) -> None:
    """Customer Voice Digest: what customers say, everywhere, in the executive's inbox."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = Context(config_dir(config_), db, traceback, quiet)


def _now(date_: str | None, config: Config) -> datetime | date:
    """`--date`: a day (read in each recipient's own time zone), an instant, or now."""
    if not date_:
        return datetime.now(UTC)
    try:
        if len(date_) == 10:
            return date.fromisoformat(date_)
        return periods.parse_date(date_, config.tz)
    except ValueError:
        raise click.BadParameter(f"not an ISO date or datetime: {date_!r}", param_hint="--date") from None


@cli.command()
@pass_ctx
def check(c: Context) -> None:
    """Validate sources.yaml and recipients.yaml (and SMTP settings); list every problem."""
    from .sources.checks import source_warnings

    config = load_config(c.config_dir)
    # what the next ingest would meet (a glob matching nothing, an unknown scheme or encoding): only here,
    # where looking at the disk is the point; ingest reports the same as a failed source
    warnings = (*config.warnings, *source_warnings(config))
    for line in warnings:
        click.echo(line, err=True)
    settings = smtp_settings(os.environ)
    srcs = config.sources.sources
    disabled = sum(1 for s in srcs if not s.enabled)
    n = len(config.recipients.recipients)
    delivery = (f"SMTP {settings.host}:{settings.port}" if settings
                else f"outbox {outbox_dir(config.directory, os.environ)}")
    click.echo(f"{config.directory}: configuration is valid: {len(srcs)} sources ({disabled} disabled), "
               f"{n} recipient{'s' if n != 1 else ''}, {len(config.sources.topics)} topics; delivery: {delivery}"
               + (f"; {len(warnings)} warning{'s' if len(warnings) != 1 else ''}" if warnings else ""))


def _report_ingest(report: IngestReport, quiet: bool) -> tuple[ExitStatus, str]:
    """Print a line per source (with `quiet`, only the sources with a problem); the status and summary line."""
    for r in report.results:
        if quiet and r.status != "error" and not r.problems:
            continue
        if r.status == "error":
            detail = f"error · {r.error or 'unknown error'}"
        elif r.status == "not_modified":
            detail = "not modified · unchanged since the last fetch"
        else:
            # replies naming nobody are kept for their threads (organisations.tag): not about the brand yet
            threads = r.thread_replies
            detail = f"ok · {r.items_seen} items, {r.about_brand} about the brand"
            detail += f", {threads} {'reply' if threads == 1 else 'replies'} kept for their threads" if threads else ""
            # an ok source may carry a warning that lost nothing (bytes repaired)
            detail += f" ({r.error})" if r.error else ""
        # what a source lost (rows skipped, a file unreadable) makes it partial, as a failure would
        detail += "".join(f" · problem: {p}" for p in r.problems)
        click.echo(f"  {r.name} [{r.channel}]: {detail}")
    if report.results and len(report.failed) == len(report.results):
        return ExitStatus.FAILURE, report.summary_line()
    return ExitStatus.PARTIAL if report.failed or report.partial else ExitStatus.OK, report.summary_line()


def _progress(quiet: bool) -> Any:
    """The ingest's progress bar on a terminal (stderr a TTY, not -q); None when piped, in cron or quiet."""
    if quiet or not sys.stderr.isatty():
        return None
    from .progress import TerminalProgress  # tqdm only where a person watches
    return TerminalProgress(sys.stderr)


@cli.command()
@click.option("--source", metavar="NAME", help="Only this source (even if disabled).")
@pass_ctx
def ingest(c: Context, source: str | None) -> None:
    """Fetch every source once and store new mentions; exit 3 if some sources failed."""
    from . import pipeline
    config = c.config()
    store = c.store()
    shown = _progress(c.quiet)
    try:
        report = pipeline.ingest(config, store, now=datetime.now(UTC), only=source, progress=shown)
    finally:
        if shown is not None:
            shown.close()
        store.close()
    status, summary = _report_ingest(report, c.quiet)
    click.echo(summary)
    sys.exit(status)


def _report_deliveries(deliveries: Sequence[pipeline.Delivery], mailer: Mailer,
                       quiet: bool) -> tuple[ExitStatus, str]:
    """Print a line per delivery (with `quiet`, only the failed ones); the status and summary line."""
    from . import pipeline
    for d in deliveries:
        if quiet and d.status != "failed":
            continue
        extra = f": {d.detail}" if d.detail else ""
        click.echo(f"  {d.period} {d.window.label_short} → {d.recipient}: {d.status}{extra}")
    sent = sum(1 for d in deliveries if d.status == "sent")
    failed = sum(1 for d in deliveries if d.status == "failed")
    busy = sum(1 for d in deliveries if d.status == "skipped" and d.detail.startswith(pipeline.IN_PROGRESS))
    skipped = sum(1 for d in deliveries if d.status == "skipped") - busy
    summary = (f"{sent} digest{'s' if sent != 1 else ''} sent, {skipped} already sent, {failed} failed"
               + (f", {busy} being sent by another run" if busy else "") + f" · {mailer.describe()}")
    return ExitStatus.FAILURE if failed else ExitStatus.OK, summary


@cli.command()
@period_arg
@date_opt
@click.option("--to", metavar="EMAIL", help="Only this recipient (one from recipients.yaml, or any address).")
@click.option("--dry-run", is_flag=True, help="Render and list, send nothing, record nothing.")
@click.option("--resend", is_flag=True, help="Send even if this digest was already sent.")
@pass_ctx
def send(c: Context, period: Period, date_: str | None, to: str | None, dry_run: bool, resend: bool) -> None:
    """Send the digest of the last complete PERIOD to every recipient who takes it."""
    from . import pipeline
    config = c.config()
    if to:
        to = _address(to, "--to")
    at = _now(date_, config)
    store, mailer = c.store(), c.mailer()
    try:
        deliveries = pipeline.send_period(config, store, mailer, period, at=at, templates=c.templates(), to=to,
                                          resend=resend, dry_run=dry_run)
    finally:
        store.close()
    if not deliveries:
        click.echo(f"nobody takes the {period} digest (recipients.yaml: digests)")
    status, summary = _report_deliveries(deliveries, mailer, c.quiet)
    click.echo(summary)
    sys.exit(status)


def _address(value: str, option: str) -> str:
    from .config import check_address
    try:
        return check_address(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None


_FORMATS = {".html": "html", ".htm": "html", ".txt": "text", ".eml": "eml", ".json": "json"}


@cli.command()
@period_arg
@date_opt
@click.option("--recipient", metavar="EMAIL", help="As this recipient of recipients.yaml gets it (their channel "
              "filter and time zone).")
@click.option("--format", "format_", type=click.Choice(sorted(set(_FORMATS.values()))),
              help="html (default), text (the plain-text part), eml (the whole message) or json (the figures, "
              "for dashboards and checks); default: from the --out file's suffix.")
@click.option("--out", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write it here instead of stdout (.html, .txt, .eml or .json).")
@click.option("--open", "open_", is_flag=True, help="Open the HTML in a browser.")
@pass_ctx
def preview(c: Context, period: Period, date_: str | None, recipient: str | None, format_: str | None,
            out: str | None, open_: bool) -> None:
    """Render the digest of the last complete PERIOD without sending or recording anything."""
    from . import pipeline
    config = c.config()
    at = _now(date_, config)
    path = Path(out) if out is not None else None
    if path is not None:
        implied = _FORMATS.get(path.suffix.lower())
        if implied is None:
            raise click.BadParameter(f"{out}: unknown suffix {path.suffix or '(none)'!r}; use "
                                     + ", ".join(sorted(_FORMATS)), param_hint="--out")
        if format_ is not None and format_ != implied:
            raise click.BadParameter(f"{out} is a {implied} file but --format is {format_}", param_hint="--out")
        format_ = implied
        if not path.parent.is_dir():
            raise click.BadParameter(f"{out}: folder {str(path.parent)!r} does not exist", param_hint="--out")
    format_ = format_ or "html"
    if open_ and format_ != "html":
        raise click.BadParameter("--open shows HTML only", param_hint="--open")
    if recipient:
        email = _address(recipient, "--recipient")
        found = config.find_recipient(email)
        if found is None:
            raise click.BadParameter(f"{email} is not in recipients.yaml", param_hint="--recipient")
        r = found
        tz = config.recipient_tz(r)
    else:
        r, tz = pipeline.adhoc_recipient("preview@example.com"), config.tz
    window = periods.last_complete(period, pipeline.instant(at, tz), tz)
    store = c.store()
    try:
        if format_ == "json":
            from .summary_json import summary_json
            text = summary_json(pipeline.summarize_window(config, store, window, r.channels, now=datetime.now(UTC)))
        else:
            rendered = pipeline.build_digest(config, store, r, window, now=datetime.now(UTC),
                                             templates=c.templates())
    finally:
        store.close()
    if format_ == "json":
        if path is None:
            click.echo(text, nl=False)
        else:
            _write(path, text.encode("utf-8"))
            click.echo(f"{period} {window.label_short} → {path}")
        return
    if path is None and open_:
        path = Path(tempfile.mkdtemp(prefix="digest-preview-")) / f"{window.key.replace(':', '-')}.html"
    if format_ == "eml":
        from .mailer import build_message
        msg = build_message(rendered, sender=config.recipients.sender, to_name=r.name, to_addr=r.email,
                            now=datetime.now(UTC), list_id=f"{config.sources.brand.name} {period} digest")
        data = msg.as_bytes()
    else:
        data = (rendered.text if format_ == "text" else rendered.html).encode("utf-8")
    if path is None:
        click.echo(data.decode("utf-8", "replace"))
        return
    _write(path, data)
    click.echo(f"{rendered.subject}\n→ {path}")
    if open_:
        webbrowser.open(path.resolve().as_uri())


@cli.command()
@click.argument("period", type=click.Choice(PERIODS), required=False)
@pass_ctx
def run(c: Context, period: Period | None) -> None:
    """Ingest, then send every digest that is due and not yet sent (what cron calls)."""
    from . import alerts, pipeline
    config = c.config()
    store, mailer = c.store(), c.mailer()
    now = datetime.now(UTC)
    shown = _progress(c.quiet)
    try:
        try:
            report = pipeline.ingest(config, store, now=now, progress=shown)
        finally:
            if shown is not None:
                shown.close()
        ingest_status, ingest_summary = _report_ingest(report, c.quiet)
        if not c.quiet:
            click.echo(ingest_summary)
        alert_status, alert_summary = _report_alert(
            alerts.check_alerts(config, store, mailer, now=now, templates=c.templates()), c.quiet)
        if not c.quiet:
            click.echo(alert_summary)
        deliveries = pipeline.send_due(config, store, mailer, now=now, templates=c.templates(), period=period)
    finally:
        store.close()
    send_status, send_summary = _report_deliveries(deliveries, mailer, c.quiet)
    # with -q, what cron appends every 15 minutes is the problems and this one line
    click.echo(" · ".join((ingest_summary, send_summary, alert_summary)) if c.quiet else send_summary)
    if ExitStatus.FAILURE in (ingest_status, send_status, alert_status):
        sys.exit(ExitStatus.FAILURE)
    sys.exit(ingest_status)


def _report_alert(outcome: alerts.AlertOutcome, quiet: bool = False) -> tuple[ExitStatus, str]:
    """Print the spike, each unanswered complaint alerted (not with `quiet`: the summary counts them) and each
    failed alert; the status and summary line."""
    if outcome.spike is not None:
        sp = outcome.spike
        click.echo(f"spike: {sp.negative} negative mentions in {sp.hours * 60:.0f} min "
                   f"(usual {sp.expected:.1f}); phrases: {', '.join(sp.phrases) or '-'}")
    for addr, u in () if quiet else outcome.overdue:
        click.echo(f"unanswered → {addr}: mention {u.id} ({u.channel}, {u.influence:,.0f} reach, "
                   f"{u.published:%Y-%m-%d %H:%M} UTC)")
    for line in (*outcome.failed, *outcome.unanswered_failed):
        click.echo(f"  alert failed: {line}")
    unanswered = (f", unanswered {len(outcome.unanswered_sent)} sent, {len(outcome.unanswered_failed)} failed"
                  if outcome.unanswered_sent or outcome.unanswered_failed else "")
    summary = f"alerts: {len(outcome.sent)} sent, {len(outcome.failed)} failed{unanswered}" + (
        f" · {outcome.note}" if outcome.note else "")
    failure = outcome.failed or outcome.unanswered_failed
    return ExitStatus.FAILURE if failure else ExitStatus.OK, summary


@cli.command()
@click.option("--dry-run", is_flag=True, help="Detect and report, send nothing.")
@pass_ctx
def alert(c: Context, dry_run: bool) -> None:
    """Check for a spike of negative mentions now; alert the on-call recipients once per spike."""
    from . import alerts
    config = c.config()
    store, mailer = c.store(), c.mailer()
    try:
        outcome = alerts.check_alerts(config, store, mailer, now=datetime.now(UTC),
                                      templates=c.templates(), dry_run=dry_run)
    finally:
        store.close()
    status, summary = _report_alert(outcome, c.quiet and not dry_run)
    click.echo(summary)
    sys.exit(status)


@cli.command()
@click.argument("file", type=click.File("r", encoding="utf-8"), required=False)
@click.option("--why", is_flag=True,
              help="Also list the cues that decided each text: kind, weight and the (stemmed) words matched.")
@pass_ctx
def classify(c: Context, file: Any, why: bool) -> None:
    """Score texts (one per line, FILE or stdin) as the pipeline would; print one JSON object a line."""
    topics: dict[str, list[str]] = {}
    praise: dict[str, list[str]] = {}
    from .organisations import about, organisations
    orgs: tuple[Any, ...] = ()
    brand = ""
    try:
        config = c.config()
        topics, praise = config.sources.topics, config.sources.praise_topics
        if config.sources.competitors:  # whom each text is about, as the store records it
            orgs, brand = organisations(config.sources), config.sources.brand.name
    except ConfigError as exc:
        if (c.config_dir / "sources.yaml").exists():
            raise
        log.info("no configuration (%s): classifying without topics", exc.problems[0])
    from .classify import Classifier
    classifier = Classifier(topics, praise)
    stream = file or sys.stdin
    for line in stream:
        text = line.rstrip("\n")
        if not text.strip():
            continue
        result = classifier.classify(text).as_dict()
        if orgs:
            result["about"] = about(text, orgs).names(brand)
        if why:
            result["cues"] = classifier.cues(text)
        click.echo(json.dumps({"text": text, **result}, ensure_ascii=False))


@cli.command()
@click.option("--days", default=120, show_default=True, help="How many days of sample mentions.")
@pass_ctx
def sample(c: Context, days: int) -> None:
    """Write the offline sample feeds and call-center exports that the shipped sources.yaml reads."""
    from .sample import write_sample
    paths = write_sample(c.config_dir, datetime.now(UTC), days=days)
    click.echo(f"wrote {len(paths)} sample files under {c.config_dir / 'examples' / 'generated'}")


@cli.command()
@pass_ctx
def serve(c: Context) -> None:
    """Run the scheduler: ingest every N minutes, digests at each recipient's local send time."""
    from .schedule import serve as run_scheduler
    config = c.config()
    store = c.store()
    try:
        run_scheduler(config, store, c.mailer(), templates=c.templates(), reload=c.config)
    finally:
        store.close()


def _fail(lines: Sequence[str], status: int) -> NoReturn:
    for line in lines:
        click.echo(f"digest: {line}" if not line.startswith(("sources.yaml", "recipients.yaml")) else line,
                   err=True)
    sys.exit(status)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `digest` console script; the one place errors become messages."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="digest", standalone_mode=False)
    except click.exceptions.Abort:
        _fail(["interrupted"], 130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitStatus.USAGE)
    except ConfigError as exc:
        _fail(exc.problems, ExitStatus.USAGE)
    except DigestError as exc:
        if "--traceback" in sys.argv:
            raise
        _fail([str(exc)], exc.exit_status)
    except KeyboardInterrupt:
        _fail(["interrupted"], 130)
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
