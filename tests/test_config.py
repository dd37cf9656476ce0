"""sources.yaml / recipients.yaml validation: every problem reported at once, located, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.config import load_config, smtp_settings
from digest.errors import ConfigError

from .conftest import ROOT, run_cli

SOURCES = """\
brand:
  name: Acme Air
  keywords: [acme]
timezone: America/New_York
sources:
  - name: Social
    kind: feed
    url: feed.xml
    channel: twitter
  - name: Calls
    kind: csv
    path: calls-*.csv
    channel: call_center
    fields: {id: ticket_id, text: notes, published: created_at}
topics:
  Billing: [bill, refund]
"""

RECIPIENTS = """\
sender: "Customer Voice <digest@acme.example>"
timezone: America/New_York
send_at: "07:00"
recipients:
  - name: Dana Chief
    email: ceo@acme.example
    digests: [daily, weekly]
    channels: [twitter]
"""


def write(tmp_path: Path, sources: str = SOURCES, recipients: str = RECIPIENTS) -> Path:
    (tmp_path / "sources.yaml").write_text(textwrap.dedent(sources))
    (tmp_path / "recipients.yaml").write_text(textwrap.dedent(recipients))
    return tmp_path


def problems(tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    return info.value.problems


def test_valid_configuration_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path))
    assert [s.name for s in config.sources.sources] == ["Social", "Calls"]
    assert config.recipients.recipients[0].digests == ["daily", "weekly"]
    assert config.resolve("feed.xml") == tmp_path / "feed.xml"


def test_shipped_configuration_is_valid() -> None:
    config = load_config(ROOT)
    assert config.sources.sources and config.recipients.recipients


def test_unknown_key_is_reported_with_line(tmp_path: Path) -> None:
    write(tmp_path, SOURCES.replace("    url: feed.xml", "    url: feed.xml\n    timout: 5"))
    assert problems(tmp_path) == ["sources.yaml:9: sources[0].timout: unknown field (a typo?)"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    bad_sources = SOURCES.replace("timezone: America/New_York", "timezone: Mars/Olympus").replace(
        "    url: feed.xml\n", "")
    bad_recipients = RECIPIENTS.replace("ceo@acme.example", "ceo@@acme").replace("[daily, weekly]",
                                                                                 "[daily, hourly]")
    write(tmp_path, bad_sources, bad_recipients)
    assert problems(tmp_path) == [
        "sources.yaml:4: timezone: unknown time zone 'Mars/Olympus' (use an IANA name such as Europe/Paris)",
        "sources.yaml:6: sources[0].url: field required",
        "recipients.yaml:6: recipients[0].email: not an email address: 'ceo@@acme'",
        "recipients.yaml:7: recipients[0].digests[1]: unknown period 'hourly'; periods are daily, weekly, "
        "monthly, quarterly, annual",
    ]


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    write(tmp_path, SOURCES.replace("keywords: [acme]", "keywords: [acme"))
    [problem] = problems(tmp_path)
    assert problem.startswith("sources.yaml:4: YAML syntax error:")


def test_unknown_kind_and_channel_filter(tmp_path: Path) -> None:
    write(tmp_path, SOURCES.replace("kind: feed", "kind: rss"), RECIPIENTS)
    assert problems(tmp_path) == ["sources.yaml:6: sources[0]: kind must be one of feed, csv, json, http_json"]
    write(tmp_path, SOURCES, RECIPIENTS.replace("channels: [twitter]", "channels: [twiter]"))
    assert problems(tmp_path) == [
        "recipients.yaml:8: recipients[0].channels[0]: unknown channel 'twiter'; sources have call_center, twitter"]


def test_unquoted_send_time_read_as_number(tmp_path: Path) -> None:
    write(tmp_path, recipients=RECIPIENTS.replace('send_at: "07:00"', "send_at: 7:00"))
    assert problems(tmp_path) == [
        "recipients.yaml:3: send_at: send_at must be quoted \"HH:MM\" (YAML read 420 as a number)"]


def test_duplicate_key_and_duplicate_source_names(tmp_path: Path) -> None:
    write(tmp_path, SOURCES.replace("name: Calls", "name: Social").replace("timezone: America/New_York",
                                                                          "timezone: UTC\ntimezone: UTC"))
    assert problems(tmp_path) == ["sources.yaml:5: timezone: duplicate key"]
    write(tmp_path, SOURCES.replace("name: Calls", "name: Social"))
    assert problems(tmp_path) == ["sources.yaml:10: sources[1].name: two sources are named 'Social' (also line 6); "
                                  "names must be unique"]


def test_header_injection_in_names_is_rejected(tmp_path: Path) -> None:
    write(tmp_path, recipients=RECIPIENTS.replace("name: Dana Chief", 'name: "Dana\\r\\nBcc: x@evil.example"'))
    assert problems(tmp_path) == ["recipients.yaml:5: recipients[0].name: must not contain a line break"]


def test_missing_file(tmp_path: Path) -> None:
    (tmp_path / "sources.yaml").write_text(SOURCES)
    assert problems(tmp_path) == [f"{tmp_path / 'recipients.yaml'}: file not found"]


def test_check_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path)
    ok = run_cli(capsys, "--config", str(tmp_path), "check")
    assert ok.code == 0, ok.err
    assert "configuration is valid: 2 sources (0 disabled), 1 recipient, 1 topics" in ok.out
    write(tmp_path, SOURCES.replace("    url: feed.xml", "    url: feed.xml\n    timout: 5"),
          RECIPIENTS.replace("ceo@acme.example", "ceo@@acme"))
    bad = run_cli(capsys, "--config", str(tmp_path), "check")
    assert bad.code == 2
    assert bad.err == ("sources.yaml:9: sources[0].timout: unknown field (a typo?)\n"
                       "recipients.yaml:6: recipients[0].email: not an email address: 'ceo@@acme'\n")
    assert "Traceback" not in bad.err and bad.out == ""


def test_smtp_settings_from_environment() -> None:
    assert smtp_settings({}) is None
    s = smtp_settings({"DIGEST_SMTP_HOST": "mail.example", "DIGEST_SMTP_TLS": "ssl", "DIGEST_SMTP_PASSWORD": "hunter2"})
    assert s is not None and (s.port, s.tls) == (465, "ssl")
    assert "hunter2" not in repr(s)
    with pytest.raises(ConfigError) as info:
        smtp_settings({"DIGEST_SMTP_HOST": "x", "DIGEST_SMTP_PORT": "smtp"})
    assert info.value.problems == ["DIGEST_SMTP_PORT: 'smtp' is not a port number"]


@pytest.mark.parametrize("key", ["no", "on", "yes", "off", "true", "False", "null", "42", "1.5", "~"])
def test_a_key_yaml_reads_as_a_boolean_number_or_null_is_an_unknown_field(tmp_path: Path, key: str) -> None:
    write(tmp_path, SOURCES.replace("    url: feed.xml", f"    url: feed.xml\n    {key}: 5"))
    assert problems(tmp_path) == [f"sources.yaml:9: sources[0].{key}: unknown field (a typo?)"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=400))
def test_any_text_gives_config_error_never_a_crash(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    d = tmp_path_factory.mktemp("cfg")
    try:
        (d / "sources.yaml").write_text(text, encoding="utf-8")
    except UnicodeEncodeError:
        return
    (d / "recipients.yaml").write_text(RECIPIENTS)
    try:
        load_config(d)
    except ConfigError as exc:
        assert exc.problems and all(p.startswith(("sources.yaml", str(d))) for p in exc.problems)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.from_regex(r"[a-z_]{1,12}", fullmatch=True), value=st.text(max_size=30))
def test_unknown_source_keys_always_rejected(tmp_path_factory: pytest.TempPathFactory, key: str, value: str) -> None:
    known = {"name", "kind", "url", "channel", "enabled", "timeout", "brand_filter", "preset"}
    if key in known:
        return
    d = tmp_path_factory.mktemp("cfg")
    import yaml
    write(d, SOURCES.replace("    url: feed.xml", f"    url: feed.xml\n    {key}: {yaml.safe_dump(value).strip()}"
                             if "\n" not in yaml.safe_dump(value).strip() else "    url: feed.xml\n"
                             f"    {key}: x"))
    assert f"sources.yaml:9: sources[0].{key}: unknown field (a typo?)" in problems(d)


def test_preset_names_match_the_sources_layer(tmp_path: Path) -> None:
    from typing import get_args

    from digest.config import FeedSource
    from digest.sources import PRESETS

    names: set[str] = set()
    for a in get_args(FeedSource.model_fields["preset"].annotation):
        names |= set(get_args(a))
    assert names == set(PRESETS)
    write(tmp_path, SOURCES.replace("    url: feed.xml", "    url: feed.xml\n    preset: redit"))
    [problem] = problems(tmp_path)
    assert problem.startswith("sources.yaml:9: sources[0].preset: Input should be 'google_alerts'")


# -- bounded loading: alias bombs, alias loops, deep nesting ----------------------------------------------

def _laughs(levels: int, width: int) -> str:
    """`levels` anchored lists, each holding `width` aliases of the one before: width**levels values."""
    rows = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    rows += [f"l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * width)}]" for k in range(1, levels)]
    return "\n".join(rows) + "\n"


def test_an_alias_bomb_is_refused_at_the_alias_that_crosses_the_bound(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, SOURCES + "x_bomb:\n" + "".join("  " + ln + "\n" for ln in _laughs(9, 9).splitlines()))
    # the levels before l5 expand to 66,429 values and each alias in l5 (line 23) to 59,049 more: it stops there
    assert problems(tmp_path) == ["sources.yaml:23: YAML refused: aliases expand to more than 100,000 values "
                                  "(an alias bomb?); write the values out instead"]
    bad = run_cli(capsys, "--config", str(tmp_path), "check")
    assert bad.code == 2 and "Traceback" not in bad.err
    assert bad.err.startswith("sources.yaml:23: YAML refused: aliases expand")


def test_a_bomb_of_merge_keys_is_refused_too(tmp_path: Path) -> None:
    rows = ["m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}"]
    rows += [f"m{k}: &m{k} {{<<: [{', '.join([f'*m{k - 1}'] * 8)}]}}" for k in range(1, 9)]
    write(tmp_path, recipients=RECIPIENTS + "\n".join(rows) + "\n")
    [problem] = problems(tmp_path)
    assert problem.startswith("recipients.yaml:14: YAML refused: aliases expand to more than 100,000")


def test_aliases_that_repeat_a_little_still_load(tmp_path: Path) -> None:
    write(tmp_path, SOURCES.replace("keywords: [acme]", "keywords: &kw [acme, acme air]").replace(
        "topics:", "praise_topics:\n  Brand: *kw\ntopics:"))
    assert load_config(tmp_path).sources.praise_topics == {"Brand": ["acme", "acme air"]}


@pytest.mark.parametrize("text, line", [("  keywords: &r [acme, *r]", 3), ("  keywords: &r {x: [*r]}", 3)])
def test_an_alias_inside_the_value_it_names_is_refused(tmp_path: Path, text: str, line: int) -> None:
    write(tmp_path, SOURCES.replace("  keywords: [acme]", text))
    assert problems(tmp_path) == [f"sources.yaml:{line}: YAML refused: alias *r is used inside the value it names "
                                  "(a loop)"]


def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    write(tmp_path, SOURCES + "deep: " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert problems(tmp_path) == ["sources.yaml:17: YAML refused: values nest deeper than 100 levels"]


# -- time zones that are valid but probably not meant ------------------------------------------------------

def test_fixed_offset_and_legacy_zones_are_warned_of_with_the_zone_meant(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, SOURCES.replace("timezone: America/New_York", "timezone: EST").replace(
              "    channel: call_center\n", "    channel: call_center\n    timezone: Etc/GMT+2\n"),
          RECIPIENTS.replace("timezone: America/New_York", "timezone: US/Pacific").replace(
              "    channels: [twitter]", "    channels: [twitter]\n    timezone: Etc/GMT-9\n"
              "  - name: Lee\n    email: lee@acme.example\n    timezone: GMT\n"
              "  - name: Kim\n    email: kim@acme.example\n    timezone: Asia/Tokyo"))
    # the files the sources name exist: `digest check` warns of a missing one too (tests/test_silent_sources.py)
    (tmp_path / "feed.xml").write_text("<rss/>", encoding="utf-8")
    (tmp_path / "calls-1.csv").write_text("", encoding="utf-8")
    config = load_config(tmp_path)
    assert config.warnings == (
        "sources.yaml:4: warning: timezone: 'EST' is UTC−5 all year, without daylight saving; you probably mean "
        "America/New_York",
        "sources.yaml:14: warning: sources[1].timezone: 'Etc/GMT+2' means UTC−2 all year, without daylight saving "
        "(these names reverse the sign); name the place instead, e.g. Europe/Athens for UTC+2 or America/Noronha "
        "for UTC−2",
        "recipients.yaml:2: warning: timezone: 'US/Pacific' is a legacy name; write America/Los_Angeles "
        "(the same clocks)",
        "recipients.yaml:9: warning: recipients[0].timezone: 'Etc/GMT-9' means UTC+9 all year, without daylight "
        "saving (these names reverse the sign); name the place instead, e.g. America/Anchorage for UTC−9 or "
        "Asia/Tokyo for UTC+9",
        "recipients.yaml:12: warning: recipients[1].timezone: 'GMT' is UTC all year, without British Summer Time; "
        "you probably mean Europe/London (or UTC for plain UTC)")
    checked = run_cli(capsys, "--config", str(tmp_path), "check")
    assert checked.code == 0
    assert checked.err.splitlines() == list(config.warnings)
    assert checked.out.rstrip().endswith("; 5 warnings")


@pytest.mark.parametrize("zone", ["UTC", "Etc/UTC", "America/New_York", "Asia/Kolkata", "Europe/London",
                                  "America/Argentina/Buenos_Aires"])
def test_place_and_utc_zones_get_no_warning(tmp_path: Path, zone: str) -> None:
    write(tmp_path, SOURCES.replace("timezone: America/New_York", f"timezone: {zone}"),
          RECIPIENTS.replace("timezone: America/New_York", f"timezone: {zone}"))
    assert load_config(tmp_path).warnings == ()


def test_a_zone_warning_is_logged_when_any_command_loads_the_configuration(tmp_path: Path) -> None:
    write(tmp_path, SOURCES.replace("timezone: America/New_York", "timezone: CST6CDT"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    result = subprocess.run([sys.executable, "-m", "digest", "--config", str(tmp_path), "preview", "daily",
                             "--format", "json"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ("WARNING digest: sources.yaml:4: warning: timezone: 'CST6CDT' is a legacy name for US "
                             "Central time; you probably mean America/Chicago\n")


# -- send_at and duplicate recipients ---------------------------------------------------------------------

@pytest.mark.parametrize("written, stored", [('"7:00"', "07:00"), ('"07:00"', "07:00"), ("'23:59'", "23:59"),
                                             ('"0:05"', "00:05")])
def test_send_at_with_one_or_two_hour_digits_is_accepted_as_hh_mm(tmp_path: Path, written: str, stored: str) -> None:
    write(tmp_path, recipients=RECIPIENTS.replace('send_at: "07:00"', f"send_at: {written}").replace(
        "    channels: [twitter]", f"    channels: [twitter]\n    send_at: {written}"))
    config = load_config(tmp_path)
    assert config.recipients.send_at == stored
    assert config.recipient_send_at(config.recipients.recipients[0]) == stored


@pytest.mark.parametrize("written, message", [
    ("6:30", 'send_at must be quoted "HH:MM" (YAML read 390 as a number)'),
    ('"25:99"', "send_at '25:99' must be HH:MM, 24-hour (00:00 to 23:59)"),
    ("25:99", "send_at '25:99' must be HH:MM, 24-hour (00:00 to 23:59)"),
    ('"24:00"', "send_at '24:00' must be HH:MM, 24-hour (00:00 to 23:59)"),
    ('"7h"', "send_at '7h' must be HH:MM, 24-hour (00:00 to 23:59)"),
])
def test_a_bad_send_at_is_located_and_clear_at_the_top_and_per_recipient(tmp_path: Path, written: str,
                                                                         message: str) -> None:
    write(tmp_path, recipients=RECIPIENTS.replace('send_at: "07:00"', f"send_at: {written}"))
    assert problems(tmp_path) == [f"recipients.yaml:3: send_at: {message}"]
    write(tmp_path, recipients=RECIPIENTS.replace("    channels: [twitter]",
                                                  f"    channels: [twitter]\n    send_at: {written}"))
    assert problems(tmp_path) == [f"recipients.yaml:9: recipients[0].send_at: {message}"]


def test_the_same_recipient_twice_in_another_capitalisation_names_both_lines(tmp_path: Path) -> None:
    more = ("  - name: Dana again\n    email: CEO@Acme.example\n  - name: Lee\n    email: lee@acme.example\n"
            "  - name: Lee twice\n    email: lee@acme.example\n")
    write(tmp_path, recipients=RECIPIENTS + more)
    assert problems(tmp_path) == [
        "recipients.yaml:10: recipients[1].email: CEO@Acme.example is listed twice (also line 6, as ceo@acme.example)",
        "recipients.yaml:14: recipients[3].email: lee@acme.example is listed twice (also line 12)"]


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing here yet\n", "{}\n", "---\n"])
def test_an_empty_file_says_so_and_what_it_needs(tmp_path: Path, text: str) -> None:
    write(tmp_path, text)
    assert problems(tmp_path) == ["sources.yaml:1: the file is empty; it needs brand and sources"]
    write(tmp_path, SOURCES, text)
    assert problems(tmp_path) == ["recipients.yaml:1: the file is empty; it needs sender and recipients"]
