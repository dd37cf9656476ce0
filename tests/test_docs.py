"""The README tells the truth: its commands exist, CI runs its test command, its quick start works."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from digest.cli import cli

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _sh_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)


def test_readme_has_the_two_quick_start_commands() -> None:
    blocks = _sh_blocks()
    assert blocks[0].startswith("pip install -e . && ")
    assert blocks[1] == "pip install -e '.[test]' && pytest"


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert _sh_blocks()[1] in ci


def test_every_command_is_documented() -> None:
    for name in cli.commands:
        assert f"`digest {name}" in README, f"README does not document `digest {name}`"


def test_quick_start_runs(tmp_path: Path) -> None:
    """The quick start after its install step, in a fresh copy of the repository's files."""
    digest_bin = shutil.which("digest") or str(Path(sys.executable).parent / "digest")
    if not Path(digest_bin).exists():
        pytest.fail("the `digest` console script is not installed: run `pip install -e .` first")
    for name in ("sources.yaml", "recipients.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    command = _sh_blocks()[0].split(" && ", 1)[1].replace("digest ", f"{digest_bin} ")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    done = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True,  # noqa: S602
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    emls = sorted((tmp_path / "outbox").glob("*-digest-*.eml"))
    assert emls, done.stdout
    # the first run sends the latest due digest of each kind, once, never all of history
    lines = [ln for ln in done.stdout.splitlines() if ln.strip().endswith(": sent")]
    assert len(lines) == len(emls)
    assert len({ln.split("→")[0] + ln.split("→")[1] for ln in lines}) == len(lines)
    msg = message_from_bytes(emls[0].read_bytes(), policy=policy.default)
    html = msg.get_body(("html",))
    assert html is not None and "mentions" in html.get_content()
    # and a second run sends nothing more
    again = subprocess.run(command.split(" && ")[-1], shell=True, cwd=tmp_path, env=env,  # noqa: S602
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert len(list((tmp_path / "outbox").glob("*-digest-*.eml"))) == len(emls)


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    from .conftest import run_cli

    for name in cli.commands:
        r = run_cli(capsys, name, "--help")
        assert r.code == 0 and r.out.startswith(f"Usage: digest {name}"), (name, r.out, r.err)
