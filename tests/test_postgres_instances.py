"""Two instances of `digest` (two processes, two machines' copies of the configuration) on one PostgreSQL
database: running at the same moment they never ingest a mention twice nor send a digest twice."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from digest.sample import write_sample
from digest.store import Store

from .conftest import SmtpServer, postgres_url


def instance(root: Path, name: str, project: Path) -> Path:
    """A copy of the project's configuration and sample files, as a second machine would have it."""
    folder = root / name
    shutil.copytree(project, folder, ignore=shutil.ignore_patterns("*.sqlite3*", "outbox"))
    return folder


def digest(folder: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "digest", "--config", str(folder), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        out.append((p.returncode, stdout, stderr))
    return out


@pytest.mark.postgres
@pytest.mark.slow
def test_two_instances_on_one_database_never_double_ingest_or_send(project: Path, tmp_path: Path,
                                                                   smtp_server: SmtpServer) -> None:
    # four weeks of the sample (a thousand mentions and every digest due) race as the whole would, in a
    # quarter of the time
    shutil.rmtree(project / "examples")
    write_sample(project, datetime.now(UTC), days=28)
    a, b = instance(tmp_path, "a", project), instance(tmp_path, "b", project)
    base = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    with postgres_url() as shared, postgres_url() as alone:
        # what one instance alone stores from the same files
        solo = finish([digest(a, {**base, "DIGEST_DB": alone}, "ingest")])
        assert solo[0][0] == 0, solo
        expected = Store.open(alone)
        try:
            once = expected.count_mentions()
        finally:
            expected.close()
        assert once > 1000  # 1,224 from four weeks of the sample

        env = {**base, "DIGEST_DB": shared, **smtp_server.env()}
        results = finish([digest(a, env, "run"), digest(b, env, "run")])
        assert [code for code, _, _ in results] == [0, 0], results
        assert all("Traceback" not in err for _, _, err in results), results
        # and again, both at once: nothing new to store, nothing left to send
        again = finish([digest(a, env, "run"), digest(b, env, "run")])
        assert [code for code, _, _ in again] == [0, 0], again

        store = Store.open(shared)
        try:
            assert store.count_mentions() == once
            with store.engine.connect() as conn:
                # every stored mention about the brand is counted once in the brand's rollups too (mentions
                # only about a competitor are counted in the competitors' own)
                rolled = conn.execute(sa.text("SELECT SUM(n) FROM mention_rollups")).scalar_one()
                ours = conn.execute(sa.text("SELECT COUNT(*) FROM mentions WHERE about_brand")).scalar_one()
            assert 500 < ours < once and rolled == ours
            ledger = [(d["recipient"], d["window_key"]) for d in store.deliveries() if d["status"] == "sent"]
        finally:
            store.close()

    assert ledger and len(ledger) == len(set(ledger))
    received = Counter((rcpt, str(msg["Subject"])) for (_, [rcpt]), msg in
                       zip(smtp_server.envelopes, smtp_server.messages, strict=True))
    assert received and max(received.values()) == 1, received.most_common(3)
    digests = [k for _, k in ledger if not k.startswith("alert:")]
    assert len([m for m in smtp_server.messages if "digest" in str(m["List-Id"])]) == len(digests)
    # each digest reported sent by exactly one of the four runs
    assert sum(out.count(": sent") for _, out, _ in results + again) == len(digests)
