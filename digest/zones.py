"""Advice on time-zone names that are valid but probably not what the user meant (EST, Etc/GMT+2, US/Eastern)."""

from __future__ import annotations

import functools
import re
from importlib import resources

# Names of places: the zones a user should write. Everything else in the database is a fixed offset, an
# abbreviation or a name kept only for backward compatibility.
_PLACES = ("Africa/", "America/", "Antarctica/", "Arctic/", "Asia/", "Atlantic/", "Australia/", "Europe/",
           "Indian/", "Pacific/")
_UTC = {"UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu"}

# Abbreviations the database accepts, and the place a user writing them almost always means. The database
# itself links some of them elsewhere (EST is America/Panama, which never changes its clocks), which is
# exactly the surprise: New York's digests would go out an hour late all summer.
_ABBREVIATIONS = {
    "EST": ("is UTC−5 all year, without daylight saving", "America/New_York"),
    "MST": ("is UTC−7 all year, without daylight saving", "America/Denver (or America/Phoenix for Arizona)"),
    "HST": ("is UTC−10 all year", "Pacific/Honolulu"),
    "GMT": ("is UTC all year, without British Summer Time", "Europe/London (or UTC for plain UTC)"),
    "Greenwich": ("is UTC all year, without British Summer Time", "Europe/London (or UTC for plain UTC)"),
    "EST5EDT": ("is a legacy name for US Eastern time", "America/New_York"),
    "CST6CDT": ("is a legacy name for US Central time", "America/Chicago"),
    "MST7MDT": ("is a legacy name for US Mountain time", "America/Denver"),
    "PST8PDT": ("is a legacy name for US Pacific time", "America/Los_Angeles"),
    "CET": ("is a legacy name for Central European time", "Europe/Paris, Europe/Berlin or your city"),
    "MET": ("is a legacy name for Central European time", "Europe/Paris, Europe/Berlin or your city"),
    "EET": ("is a legacy name for Eastern European time", "Europe/Athens, Europe/Helsinki or your city"),
    "WET": ("is a legacy name for Western European time", "Europe/Lisbon"),
}
for _name in ("GMT+0", "GMT-0", "GMT0", "Etc/GMT", "Etc/GMT+0", "Etc/GMT-0", "Etc/GMT0", "Etc/Greenwich"):
    _ABBREVIATIONS[_name] = _ABBREVIATIONS["GMT"]

# A well-known place for each whole-hour standard offset, to make the advice for Etc/GMT±N concrete.
_EXAMPLE_AT = {-11: "Pacific/Pago_Pago", -10: "Pacific/Honolulu", -9: "America/Anchorage",
               -8: "America/Los_Angeles", -7: "America/Denver", -6: "America/Chicago", -5: "America/New_York",
               -4: "America/Halifax", -3: "America/Sao_Paulo", -2: "America/Noronha", -1: "Atlantic/Azores",
               1: "Europe/Paris", 2: "Europe/Athens", 3: "Europe/Moscow", 4: "Asia/Dubai", 5: "Asia/Karachi",
               6: "Asia/Dhaka", 7: "Asia/Bangkok", 8: "Asia/Singapore", 9: "Asia/Tokyo", 10: "Australia/Sydney",
               11: "Pacific/Noumea", 12: "Pacific/Auckland", 13: "Pacific/Tongatapu", 14: "Pacific/Kiritimati"}
_ETC_GMT = re.compile(r"^Etc/GMT([+-])(\d{1,2})$")


def zone_advice(name: str) -> str | None:
    """Why `name` (a zone the database accepts) is probably a mistake, and what to write; None if it is fine."""
    if name in _UTC or name.startswith(_PLACES):
        return None
    if name in _ABBREVIATIONS:
        what, meant = _ABBREVIATIONS[name]
        return f"{name!r} {what}; you probably mean {meant}"
    m = _ETC_GMT.match(name)
    if m:
        return _etc_advice(name, -int(m.group(2)) if m.group(1) == "+" else int(m.group(2)))
    target = _links().get(name)
    if target is not None and target.startswith(_PLACES):
        return f"{name!r} is a legacy name; write {target} (the same clocks)"
    return f"{name!r} is not the name of a place; write one such as Europe/Paris (Area/City)"


def _etc_advice(name: str, hours: int) -> str:
    """Etc/GMT+2 is UTC−2: the POSIX sign convention that nearly everyone reads the other way round."""
    offset = f"UTC{'+' if hours > 0 else '−'}{abs(hours)}" if hours else "UTC"
    text = f"{name!r} means {offset} all year, without daylight saving (these names reverse the sign)"
    examples = [f"{_EXAMPLE_AT[h]} for UTC{'+' if h > 0 else '−'}{abs(h)}" for h in (-hours, hours)
                if h in _EXAMPLE_AT]
    return text + (f"; name the place instead, e.g. {' or '.join(examples)}" if examples else "")


@functools.cache
def _links() -> dict[str, str]:
    """Backward-compatibility names and the zone each stands for, from the tzdata package's tzdata.zi."""
    try:
        text = resources.files("tzdata").joinpath("zoneinfo", "tzdata.zi").read_text(encoding="utf-8")
    except (ModuleNotFoundError, OSError):
        return {}
    links: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "L":
            links[parts[2]] = parts[1]
    return links
