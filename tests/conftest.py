"""Shared fixtures: real SQLite and PostgreSQL stores, a real SMTP server on loopback, the CLI."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import hypothesis  # imported early: its plugin importing it at teardown trips CPython 3.11's
import pytest  # "AST constructor recursion depth mismatch" bug (gh-106905) under pytest's rewriter
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
# Property tests: in CI the examples are derived from each test itself (derandomized), so a CI run can never
# fail by chance; local runs draw fresh examples and keep what fails in .hypothesis/ (ignored by git).
hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    hypothesis.settings.load_profile("ci")

PG_URL = os.environ.get("DIGEST_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> bool:
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


PG_AVAILABLE = _pg_available()
CI = os.environ.get("CI") == "true"


def skip_unless_ci(reason: str) -> None:
    """Skip a test whose tool or data is missing here; in CI fail it, so a check never vanishes silently.

    The one exception: a checkout with no shared/ folder beside it at all (a clone made elsewhere) cannot
    have the data or tools, and skips, saying so; a shared/ folder that lacks what a test needs fails it.
    """
    if CI and (ROOT.parent / "shared").is_dir():
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason if (ROOT.parent / "shared").is_dir() else f"{reason} (no shared/ beside this checkout)")
# In CI the PostgreSQL leg must run: a missing server fails the suite instead of skipping silently.
PG_REQUIRED = os.environ.get("CI") == "true" or os.environ.get("DIGEST_TEST_PG_REQUIRED") == "1"
# DIGEST_TEST_DB=postgresql: the `project` fixture (the CLI and end-to-end tests) stores in a fresh
# PostgreSQL schema through DIGEST_DB instead of the default SQLite file, so that the whole suite runs
# on PostgreSQL too (the store tests run on both databases either way).
TEST_DB = os.environ.get("DIGEST_TEST_DB", "sqlite")
if TEST_DB not in ("sqlite", "postgresql"):
    raise ValueError(f"DIGEST_TEST_DB must be sqlite or postgresql, not {TEST_DB!r}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests whose store DIGEST_TEST_DB chooses (`-m project_store` selects them for a second pass)."""
    for item in items:
        if "project" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.project_store)


@contextlib.contextmanager
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    schema = "t_" + secrets.token_hex(6)
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema's URL; skips the test when no server answers (fails it in CI)."""
    if not PG_AVAILABLE:
        if PG_REQUIRED:
            pytest.fail(f"PostgreSQL is required in CI but {PG_URL} does not answer")
        pytest.skip(f"no PostgreSQL at {PG_URL}")
    with pg_schema_url() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL: a real SQLite file, and a real PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    with postgres_url() as url:
        yield url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SmtpServer:
    """An aiosmtpd server on loopback that keeps what it receives."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    fail_with: str | None = None  # e.g. "451 4.3.0 try again later"

    def env(self) -> dict[str, str]:
        return {"DIGEST_SMTP_HOST": self.host, "DIGEST_SMTP_PORT": str(self.port), "DIGEST_SMTP_TLS": "none"}

    def to(self) -> list[str]:
        return [str(m["To"]) for m in self.messages]


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        if self.server.fail_with:
            return self.server.fail_with
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.server.messages.append(msg)
        self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    from aiosmtpd.controller import Controller

    server = SmtpServer("127.0.0.1", free_port())
    controller = Controller(_Handler(server), hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def copy_project(dest: Path) -> Path:
    """The shipped configuration (and templates) copied into `dest`, as a user's checkout would be."""
    for name in ("sources.yaml", "recipients.yaml"):
        shutil.copy(ROOT / name, dest / name)
    return dest


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A configuration folder with the shipped YAML files and a freshly written offline sample.

    Its store is the default SQLite file beside it, or with DIGEST_TEST_DB=postgresql a fresh PostgreSQL
    schema named by DIGEST_DB (see project_db_url).
    """
    from datetime import datetime

    from digest.sample import write_sample

    copy_project(tmp_path)
    write_sample(tmp_path, datetime.now(UTC))
    for var in ("DIGEST_SMTP_HOST", "DIGEST_DB", "DIGEST_CONFIG", "DIGEST_OUTBOX"):
        monkeypatch.delenv(var, raising=False)
    if TEST_DB == "postgresql":
        with postgres_url() as url:
            monkeypatch.setenv("DIGEST_DB", url)
            yield tmp_path
    else:
        yield tmp_path


# Period boundaries in every zone fall on a quarter hour of UTC, so a store ingested from a sample written in
# the same quarter hour holds what an ingest now would store, and gives the same digests.
_SAMPLE_SLOT = 15 * 60


def _pg_admin(statement: str, **params: str) -> None:
    """Run one statement outside a transaction (CREATE / DROP DATABASE) on the test server."""
    engine = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()


def _pg_database(name: str) -> str:
    return sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _pg_templates() -> Iterator[list[str]]:
    """The template databases this worker made (dropped at the end of its session)."""
    made: list[str] = []
    yield made
    for name in made:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def ingested_project(project: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Path]:
    """The `project` folder with its sample already ingested (`digest ingest`, exit 0).

    The sample and the store are copies of one this worker ingested in the same quarter hour (each ingest of
    the whole sample takes seconds: tests that only need it stored share one): the SQLite file beside it,
    or with DIGEST_TEST_DB=postgresql a database of its own made from a template database
    (CREATE DATABASE ... TEMPLATE), which DIGEST_DB names.
    """
    import time

    slot = int(time.time()) // _SAMPLE_SLOT
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    template = tmp_path_factory.getbasetemp() / f"ingested-sample-{slot}"
    template_db = f"digest_tpl_{worker}_{slot}"
    if not (template / "ingested").exists():
        from datetime import datetime

        from digest.sample import write_sample

        shutil.rmtree(template, ignore_errors=True)
        template.mkdir()
        copy_project(template)
        write_sample(template, datetime.now(UTC))
        if TEST_DB == "postgresql":
            templates: list[str] = request.getfixturevalue("_pg_templates")
            _pg_admin(f'DROP DATABASE IF EXISTS "{template_db}" WITH (FORCE)')
            _pg_admin(f'CREATE DATABASE "{template_db}"')
            templates.append(template_db)
            monkeypatch.setenv("DIGEST_DB", _pg_database(template_db))
        r = run_cli(capsys, "--config", str(template), "ingest")
        assert r.code == 0, r.out + r.err
        (template / "ingested").touch()
    shutil.rmtree(project / "examples", ignore_errors=True)
    shutil.copytree(template, project, dirs_exist_ok=True,  # copy2 keeps the files' mtimes the store noted
                    ignore=shutil.ignore_patterns("ingested", "*.lock"))
    if TEST_DB != "postgresql":
        yield project
        return
    own = "digest_t_" + secrets.token_hex(6)
    # a template may have no other session open while it is copied (the ingest's pool may keep one)
    _pg_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name "
              "AND pid <> pg_backend_pid()", name=template_db)
    _pg_admin(f'CREATE DATABASE "{own}" TEMPLATE "{template_db}"')
    monkeypatch.setenv("DIGEST_DB", _pg_database(own))
    try:
        yield project
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)')


def project_db_url(project: Path) -> str:
    """The store URL the CLI uses for a `project` folder (DIGEST_DB, else the SQLite file beside it)."""
    return os.environ.get("DIGEST_DB") or f"sqlite:///{project / 'digest.sqlite3'}"


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """Run `digest ARGS` in-process through the real entry point; return exit code and output."""
    from digest.cli import main

    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return Result(code, out, err)
