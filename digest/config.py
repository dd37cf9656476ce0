"""sources.yaml and recipients.yaml: schema (unknown keys rejected), located errors, environment settings."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError
from .periods import PERIODS, Period
from .text import account_key
from .yamlfile import LocatedYaml, format_loc, load_yaml
from .zones import zone_advice

SOURCES_FILE = "sources.yaml"
RECIPIENTS_FILE = "recipients.yaml"

_ADDR = re.compile(r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*$")
_NAMED_ADDR = re.compile(r"^\s*(?:\"?(?P<name>[^\"<>\r\n]*?)\"?\s*)?<(?P<addr>[^<>\s]+)>\s*$")
_CHANNEL = re.compile(r"^[a-z][a-z0-9_]*$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def check_address(value: str) -> str:
    """A bare address `name@example.com`; no display name, no CR/LF."""
    value = value.strip()
    if not _ADDR.match(value):
        raise ValueError(f"not an email address: {value!r}")
    return value


def check_named_address(value: str) -> str:
    """`Name <addr@example.com>` or a bare address; no CR/LF (header injection)."""
    if "\r" in value or "\n" in value:
        raise ValueError("must not contain a line break")
    m = _NAMED_ADDR.match(value)
    check_address(m.group("addr") if m else value)
    return value.strip()


def check_send_at(value: Any) -> Any:
    """`HH:MM`, 24-hour, returned as `07:00` also when written `7:00`; a clear word for what YAML made of it."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return value  # not a time at all: the schema's own message says what was expected
    if isinstance(value, (int, float)):  # YAML 1.1 reads unquoted 07:00 as the sexagesimal number 420
        raise ValueError(f"send_at must be quoted \"HH:MM\" (YAML read {value!r} as a number)")
    m = _TIME.match(value.strip())
    if not m:
        raise ValueError(f"send_at {value!r} must be HH:MM, 24-hour (00:00 to 23:59)")
    return f"{int(m.group(1)):02d}:{m.group(2)}"


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)") from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


NonEmpty = Annotated[str, Field(min_length=1)]


class Brand(_Strict):
    name: NonEmpty
    keywords: list[NonEmpty] = []
    exclude: list[NonEmpty] = []
    # the brand's own accounts / author names: their posts are answers, never mentions (digest/sources/replies.py)
    accounts: list[NonEmpty] = []


class Competitor(_Strict):
    """A competitor for share of voice: mentions naming its keywords are about it, its accounts' posts are
    its answers (never mentions)."""

    name: NonEmpty
    keywords: list[NonEmpty] = Field(min_length=1)  # none would make every post about it
    exclude: list[NonEmpty] = []
    accounts: list[NonEmpty] = []


class FieldMap(_Strict):
    """Which column / key of an export holds each part of a mention."""

    text: NonEmpty
    id: str | None = None
    published: str | None = None
    title: str | None = None
    author: str | None = None
    url: str | None = None
    influence: str | None = None
    reply_to: str | None = None  # the id (in the same export) of the post this one answers
    # tickets: answered when they have a first response or resolution time, or an answered status
    first_response_at: str | None = None
    resolved_at: str | None = None
    status: str | None = None


class _SourceBase(_Strict):
    name: NonEmpty
    channel: str
    enabled: bool = True
    timeout: float = Field(default=20.0, gt=0, le=600)  # seconds per request
    brand_filter: bool = True  # False: every entry is about the brand (e.g. the call-center export)

    @field_validator("channel")
    @classmethod
    def _channel(cls, v: str) -> str:
        if not _CHANNEL.match(v):
            raise ValueError(f"channel {v!r} must be lower-case letters, digits and _ (e.g. call_center)")
        return v


class FeedSource(_SourceBase):
    """RSS, Atom or JSON Feed over http(s), from a file: URL or a local path."""

    kind: Literal["feed"]
    url: NonEmpty
    # platform quirks, see digest/sources/presets.py (tests keep this list and PRESETS in step)
    preset: Literal["google_alerts", "reddit", "youtube", "mastodon", "bluesky", "tumblr", "pinterest", "medium",
                    "reviews"] | None = None


class FileExportSource(_SourceBase):
    """Call-center / ticketing exports: CSV or JSON files matched by a glob."""

    kind: Literal["csv", "json"]
    path: NonEmpty
    fields: FieldMap
    date_format: str | None = None  # strptime format; default: ISO 8601 and common formats
    timezone: str | None = None  # zone of naive timestamps in the export; default: the brand's
    encoding: str = "utf-8"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    items_path: str | None = None  # json: dotted path to the list of items

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else check_timezone(v)


class HttpJsonSource(_SourceBase):
    """A JSON API fetched with requests: items at a dotted path, optional pagination."""

    kind: Literal["http_json"]
    url: NonEmpty
    fields: FieldMap
    items_path: str | None = None
    headers_from_env: dict[str, str] = {}  # header name -> environment variable holding its value
    next_path: str | None = None  # dotted path to the next page's URL
    max_pages: int = Field(default=10, ge=1, le=1000)
    date_format: str | None = None


SourceSpec = Annotated[FeedSource | FileExportSource | HttpJsonSource, Field(discriminator="kind")]


class Alerts(_Strict):
    recipients: list[str] = []
    window_minutes: int = Field(default=60, ge=5, le=24 * 60)
    baseline_days: int = Field(default=14, ge=1, le=365)
    min_negative: int = Field(default=5, ge=1)
    ratio: float = Field(default=3.0, gt=1)
    # an addressed complaint from an author of this reach (or more) still unanswered after this many hours
    unanswered_after_hours: float | None = Field(default=None, gt=0, le=720)
    unanswered_min_reach: float = Field(default=1000, ge=0)

    @field_validator("recipients")
    @classmethod
    def _addrs(cls, v: list[str]) -> list[str]:
        return [check_address(a) for a in v]


class SourcesConfig(_Strict):
    brand: Brand
    timezone: str = "UTC"
    ingest_every_minutes: int = Field(default=30, ge=1, le=24 * 60)
    sources: list[SourceSpec] = Field(min_length=1)
    topics: dict[NonEmpty, list[NonEmpty]] = {}
    praise_topics: dict[NonEmpty, list[NonEmpty]] = {}
    alerts: Alerts | None = None
    competitors: list[Competitor] = []

    _tz = field_validator("timezone")(classmethod(lambda cls, v: check_timezone(v)))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Recipient(_Strict):
    name: NonEmpty
    email: str
    role: str = ""
    digests: list[Period] = ["daily", "weekly"]
    channels: list[str] | None = None
    timezone: str | None = None
    send_at: str | None = None

    _email = field_validator("email")(classmethod(lambda cls, v: check_address(v)))

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if "\r" in v or "\n" in v:
            raise ValueError("must not contain a line break")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else check_timezone(v)

    _time = field_validator("send_at", mode="before")(classmethod(lambda cls, v: check_send_at(v)))


class RecipientsConfig(_Strict):
    sender: str
    timezone: str | None = None
    send_at: str = "07:00"
    recipients: list[Recipient] = Field(min_length=1)

    _sender = field_validator("sender")(classmethod(lambda cls, v: check_named_address(v)))

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else check_timezone(v)

    _time = field_validator("send_at", mode="before")(classmethod(lambda cls, v: check_send_at(v)))


@dataclasses.dataclass(frozen=True)
class Config:
    """Both files, validated, with paths resolved against the configuration folder."""

    directory: Path
    sources: SourcesConfig
    recipients: RecipientsConfig
    # valid but probably not meant (`timezone: EST`): `digest check` lists them, other commands log them
    warnings: tuple[str, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return self.sources.tz

    def recipient_tz(self, r: Recipient) -> ZoneInfo:
        return ZoneInfo(r.timezone or self.recipients.timezone or self.sources.timezone)

    def recipient_send_at(self, r: Recipient) -> str:
        return r.send_at or self.recipients.send_at

    def resolve(self, path: str) -> Path:
        """A path from sources.yaml, relative to the configuration folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.directory / p

    def find_recipient(self, email: str) -> Recipient | None:
        for r in self.recipients.recipients:
            if r.email.lower() == email.lower():
                return r
        return None


def _problems(doc: LocatedYaml, exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        # discriminated unions put the tag ('feed') in the location; it is not a YAML key
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p in ("feed", "csv", "json", "http_json")
                                              and not _is_key(doc, err["loc"], p))]
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (a typo?)"
        elif err["type"] == "missing":
            msg = "field required"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        elif err["type"] == "union_tag_invalid":
            msg = "kind must be one of feed, csv, json, http_json"
        elif err["type"] == "literal_error" and loc and loc[-1] != "kind" and "digests" in loc:
            msg = f"unknown period {err.get('input')!r}; periods are {', '.join(PERIODS)}"
        out.append(f"{doc.where(loc)}: {msg}")
    return out


def _is_key(doc: LocatedYaml, loc: tuple[int | str, ...], part: str) -> bool:
    idx = loc.index(part)
    return tuple(loc[: idx + 1]) in doc.lines


def _parse(doc: LocatedYaml, model: type[BaseModel]) -> tuple[Any, list[str]]:
    if doc.data is None or doc.data == {}:  # one line that says so, not a `field required` for each key
        needs = [name for name, f in model.model_fields.items() if f.is_required()]
        return None, [f"{doc.path.name}:1: the file is empty; it needs {' and '.join(needs)}"]
    if not isinstance(doc.data, Mapping):
        return None, [f"{doc.path.name}:1: the file must be a mapping of keys (got {type(doc.data).__name__})"]
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        return None, _problems(doc, exc)


def config_dir(explicit: str | os.PathLike[str] | None) -> Path:
    """--config, else $DIGEST_CONFIG, else the current directory."""
    value = explicit or os.environ.get("DIGEST_CONFIG") or "."
    return Path(value).expanduser().resolve()


def load_config(directory: Path) -> Config:
    """Load and validate both files; raise ConfigError with every problem found, each located."""
    problems: list[str] = []
    docs: dict[str, LocatedYaml] = {}
    for name in (SOURCES_FILE, RECIPIENTS_FILE):
        try:
            docs[name] = load_yaml(directory / name)
        except ConfigError as exc:
            problems.extend(exc.problems)
    sources = recipients = None
    if SOURCES_FILE in docs:
        sources, more = _parse(docs[SOURCES_FILE], SourcesConfig)
        problems += more + (_unique_names(sources, docs[SOURCES_FILE]) if sources is not None else [])
    if RECIPIENTS_FILE in docs:
        recipients, more = _parse(docs[RECIPIENTS_FILE], RecipientsConfig)
        problems += more
    if sources is not None and recipients is not None:
        problems += _cross_check(sources, recipients, docs[RECIPIENTS_FILE])
    if sources is not None:
        problems += _check_competitors(sources, docs[SOURCES_FILE])
    if problems:
        raise ConfigError(problems)
    assert sources is not None and recipients is not None
    warnings = _zone_warnings(sources, docs[SOURCES_FILE], recipients, docs[RECIPIENTS_FILE])
    return Config(directory, sources, recipients, tuple(warnings))


def _zone_warnings(sources: SourcesConfig, sdoc: LocatedYaml, recipients: RecipientsConfig,
                   rdoc: LocatedYaml) -> list[str]:
    """A fixed offset or a legacy name where a place was probably meant (EST has no summer time)."""
    zones: list[tuple[LocatedYaml, tuple[str | int, ...], str | None]] = [(sdoc, ("timezone",), sources.timezone)]
    zones += [(sdoc, ("sources", i, "timezone"), getattr(s, "timezone", None))
              for i, s in enumerate(sources.sources)]
    zones.append((rdoc, ("timezone",), recipients.timezone))
    zones += [(rdoc, ("recipients", i, "timezone"), r.timezone) for i, r in enumerate(recipients.recipients)]
    out = []
    for doc, loc, name in zones:
        advice = zone_advice(name) if name else None
        if advice:
            line = doc.line_of(loc)
            out.append(f"{doc.path.name}:{line}: warning: {format_loc(loc)}: {advice}")
    return out


def _unique_names(sources: SourcesConfig, doc: LocatedYaml) -> list[str]:
    """Source names key the store's fetch state: two sources by one name would share it."""
    out = []
    first: dict[str, int] = {}
    for i, s in enumerate(sources.sources):
        j = first.setdefault(s.name, i)
        if j != i:
            out.append(f"{doc.where(('sources', i, 'name'))}: two sources are named {s.name!r} (also line "
                       f"{doc.line_of(('sources', j, 'name'))}); names must be unique")
    return out


def _check_competitors(sources: SourcesConfig, doc: LocatedYaml) -> list[str]:
    """Each organisation is named once, and an account belongs to one organisation (its posts are that
    organisation's answers)."""
    out = []
    names: dict[str, tuple[str | int, ...]] = {sources.brand.name.casefold(): ("brand", "name")}
    owners: dict[str, str] = {}
    for account in sources.brand.accounts:
        owners.setdefault(account_key(account), sources.brand.name)
    for i, c in enumerate(sources.competitors):
        first = names.setdefault(c.name.casefold(), ("competitors", i, "name"))
        if first != ("competitors", i, "name"):
            out.append(f"{doc.where(('competitors', i, 'name'))}: {c.name!r} is named already "
                       f"(line {doc.line_of(first)}); each organisation needs its own name")
        for j, account in enumerate(c.accounts):
            owner = owners.setdefault(account_key(account), c.name)
            if owner != c.name:
                out.append(f"{doc.where(('competitors', i, 'accounts', j))}: account {account!r} belongs to "
                           f"{owner} already")
    return out


def _cross_check(sources: SourcesConfig, recipients: RecipientsConfig, doc: LocatedYaml) -> list[str]:
    """Channel filters must name a channel some source has (a misspelt one would hide everything)."""
    known = sorted({s.channel for s in sources.sources})
    out = []
    seen: dict[str, int] = {}  # addresses are compared as mail servers treat them: case does not matter
    for i, r in enumerate(recipients.recipients):
        first = seen.setdefault(r.email.lower(), i)
        if first != i:
            other = recipients.recipients[first].email
            out.append(f"{doc.where(('recipients', i, 'email'))}: {r.email} is listed twice (also line "
                       f"{doc.line_of(('recipients', first, 'email'))}"
                       + (f", as {other})" if other != r.email else ")"))
        for j, ch in enumerate(r.channels or []):
            if ch not in known:
                out.append(f"{doc.where(('recipients', i, 'channels', j))}: unknown channel {ch!r}; "
                           f"sources have {', '.join(known)}")
    return out


@dataclasses.dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None
    password: str | None
    tls: Literal["starttls", "ssl", "none"]
    timeout: float = 30.0
    verify: bool = True

    def __repr__(self) -> str:  # never show the password, not even in a traceback
        return f"SmtpSettings(host={self.host!r}, port={self.port}, user={self.user!r}, tls={self.tls!r})"


def smtp_settings(env: Mapping[str, str]) -> SmtpSettings | None:
    """SMTP settings from DIGEST_SMTP_*; None when DIGEST_SMTP_HOST is unset (outbox delivery)."""
    host = env.get("DIGEST_SMTP_HOST", "").strip()
    if not host:
        return None
    tls = env.get("DIGEST_SMTP_TLS", "starttls").strip().lower() or "starttls"
    if tls not in ("starttls", "ssl", "none"):
        raise ConfigError([f"DIGEST_SMTP_TLS: {tls!r} must be starttls, ssl or none"])
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[tls]
    raw_port = env.get("DIGEST_SMTP_PORT", "").strip()
    try:
        port = int(raw_port) if raw_port else default_port
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise ConfigError([f"DIGEST_SMTP_PORT: {raw_port!r} is not a port number"]) from None
    verify = env.get("DIGEST_SMTP_VERIFY", "1").strip().lower() not in ("0", "false", "no")
    return SmtpSettings(host, port, env.get("DIGEST_SMTP_USER") or None, env.get("DIGEST_SMTP_PASSWORD") or None,
                        tls, verify=verify)  # type: ignore[arg-type]


def outbox_dir(directory: Path, env: Mapping[str, str]) -> Path:
    value = env.get("DIGEST_OUTBOX")
    return Path(value).expanduser() if value else directory / "outbox"
