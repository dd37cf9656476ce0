"""Typed errors; the CLI turns each into one line on stderr and an exit status."""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """Process exit codes, the contract cron and systemd rely on."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    PARTIAL = 3


class DigestError(Exception):
    """Base of every error the product raises on purpose."""

    exit_status = ExitStatus.FAILURE


class ConfigError(DigestError):
    """Invalid configuration: one message per problem, each naming file, line and field."""

    exit_status = ExitStatus.USAGE

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class UsageError(DigestError):
    """The command asked for something that does not exist (a source name, a recipient)."""

    exit_status = ExitStatus.USAGE


class SourceError(DigestError):
    """A source could not be fetched or parsed; the message names the source."""


class StoreError(DigestError):
    """The store could not be opened, read or written."""


class RenderError(DigestError):
    """A template is missing or broken."""


class DeliveryError(DigestError):
    """A message could not be delivered."""
