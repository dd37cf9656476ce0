"""Summary -> email: jinja2 (autoescape, StrictUndefined, user templates first) and premailer (no network).

Where the default templates live, decided once: an installed wheel carries the top-level `templates/`
folder as package data at `digest/templates` (pyproject `force-include`); a source checkout or an
editable install has no such folder and uses the repository's top-level `templates/` instead. A user's
folder (`Templates(user_dir)`) comes first, so a user overrides one template by giving a file of the
same name and inherits the rest.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from premailer import Premailer

from . import formatting
from .analysis import Capped, Spike, Summary
from .analysis.responses import OverdueAlert
from .analysis.summary import MAX_LANGUAGES
from .errors import RenderError
from .formatting import plain_line
from .models import RenderedDigest

__all__ = [
    "HTML_BUDGET", "NAME_SLOT", "SUBJECT_CHARS", "Templates", "default_templates_dir", "inline_css", "personalize",
    "render_alert", "render_digest", "render_shared_digest",
]

SUBJECT_CHARS = 120  # one line that inbox lists and phones can still show most of
HTML_BUDGET = 100_000  # bytes; Gmail clips a message's HTML beyond about 102 KB and hides the rest
_PACKAGED = Path(__file__).resolve().parent / "templates"
_SOURCE_TREE = Path(__file__).resolve().parent.parent / "templates"

log = logging.getLogger(__name__)
T = TypeVar("T")


def default_templates_dir() -> Path:
    """The built-in templates: the wheel's package data, else the source tree's `templates/`."""
    return _PACKAGED if _PACKAGED.is_dir() else _SOURCE_TREE


class Templates:
    """The jinja2 environment: the user's folder first, then the built-in templates."""

    def __init__(self, user_dir: Path | None = None) -> None:
        """Raises RenderError when `user_dir` is given but is not a folder."""
        loaders: list[jinja2.BaseLoader] = []
        if user_dir is not None:
            if not Path(user_dir).is_dir():
                raise RenderError(f"templates folder not found: {user_dir}")
            loaders.append(jinja2.FileSystemLoader(str(user_dir)))
        loaders.append(jinja2.FileSystemLoader(str(default_templates_dir())))
        self.user_dir = user_dir
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            # feed text is untrusted: every .html template escapes (they also say so with {% autoescape %})
            autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "html.j2"),
                                                default_for_string=True, default=False),
            undefined=jinja2.StrictUndefined,  # a misspelt variable is an error, not an empty hole
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        # the formatting the analysis writes figures with, for templates that write their own
        self.env.filters.update(number=formatting.number, percent=formatting.percent, signed=formatting.signed,
                                compact=formatting.compact, plural=formatting.plural,
                                channel_label=formatting.channel_label)

    def render(self, name: str, /, **context: Any) -> str:
        """Render template `name`; raises RenderError naming the template file and line on any problem."""
        try:
            return self.env.get_template(name).render(**context)
        except jinja2.TemplateNotFound as exc:
            raise RenderError(f"template not found: {exc.name}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise RenderError(f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise RenderError(f"{_template_position(exc, name)}: {exc}") from None


def _template_position(exc: BaseException, name: str) -> str:
    """`file:line` of the template frame that failed (jinja2 maps template lines into tracebacks)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2"):
            return f"{frame.filename}:{frame.lineno}"
    return name


# -- premailer -------------------------------------------------------------------------------------------

_DOCTYPE = "<!DOCTYPE html>"


def inline_css(html: str) -> str:
    """CSS from <style> moved into style attributes for Gmail and Outlook; never touches the network.

    `<style data-premailer="ignore">` blocks (media queries, dark mode) stay in the head as they are;
    classes and !important stay because those blocks need them to override the inlined styles.
    """
    premailer = Premailer(
        html,
        base_url=None,
        allow_network=False,  # premailer would otherwise fetch <link> stylesheets
        keep_style_tags=False,
        remove_classes=False,
        strip_important=False,
        disable_validation=True,  # cssutils does not know mso-* and other email-only properties
        cssutils_logging_level=logging.CRITICAL,
        exclude_pseudoclasses=True,
    )
    out: str = premailer.transform()
    # lxml drops the doctype, and without it clients render in quirks mode
    if not out.lstrip()[:9].lower().startswith("<!doctype"):
        out = f"{_DOCTYPE}\n{out}"
    return out


# -- digests and alerts ----------------------------------------------------------------------------------

_SPACE = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")


def _tidy_text(text: str) -> str:
    """At most one blank line in a row: optional sections leave gaps that a reader should not see."""
    return _BLANK_LINES.sub("\n\n", text)


def _subject(raw: str) -> str:
    """One header-safe line of at most SUBJECT_CHARS characters."""
    line = plain_line(_SPACE.sub(" ", raw), SUBJECT_CHARS)
    if not line:
        raise RenderError("the subject template rendered an empty subject")
    return line


def _keep(capped: Capped[T], n: int) -> Capped[T]:
    return Capped(capped.rows[:n], capped.total)


def _shrunk(summary: Summary) -> Iterator[Summary]:
    """The summary with ever fewer quotes: the last resort when hostile or huge text overflows the budget.

    Caps in analyze keep ordinary digests at about half the budget; only text built to expand when
    escaped (every character a `"` or `&`) and maximal URLs get here. Totals stay, so "and N more" is right.
    """
    yield summary
    for quotes, topics, phrases in ((3, 8, 6), (1, 5, 3), (0, 5, 0)):
        praise = summary.praise
        yield dataclasses.replace(
            summary,
            most_negative=_keep(summary.most_negative, quotes),
            most_influential=_keep(summary.most_influential, quotes),
            emerging=_keep(summary.emerging, quotes),
            praise=dataclasses.replace(praise, quotes=_keep(praise.quotes, min(quotes, 1))),
            topics=Capped(tuple(t if quotes else dataclasses.replace(t, quote=None)
                                for t in summary.topics.rows[:topics]), summary.topics.total),
            phrases=_keep(summary.phrases, phrases),
        )


def render_digest(summary: Summary, *, recipient_name: str, templates: Templates) -> RenderedDigest:
    """Subject, inlined HTML (under HTML_BUDGET bytes), plain text and preheader of one recipient's digest."""
    context: dict[str, Any] = {"summary": summary, "recipient_name": plain_line(recipient_name, 80),
                               "max_languages": MAX_LANGUAGES}
    subject = _subject(templates.render("digest.subject.j2", **context))
    preheader = plain_line(summary.headline, 200)
    context.update(subject=subject, preheader=preheader)
    text = _tidy_text(templates.render("digest.txt.j2", **context))  # no size limit: it keeps every quote
    html = ""
    for fitted in _shrunk(summary):
        html = inline_css(templates.render("digest.html.j2", **{**context, "summary": fitted}))
        if len(html.encode()) <= HTML_BUDGET:
            break
        log.info("digest HTML is %d bytes, over %d: leaving out quotes", len(html.encode()), HTML_BUDGET)
    else:
        log.warning("digest HTML is %d bytes even without quotes; Gmail may clip it", len(html.encode()))
    return RenderedDigest(subject=subject, html=html, text=text, preheader=preheader)


# Stands for the recipient's name in a digest rendered once for everyone who gets the same figures.
NAME_SLOT = "RecipientNameSlot7f3a"


def render_shared_digest(summary: Summary, *, templates: Templates) -> RenderedDigest:
    """The digest as `render_digest` makes it, with NAME_SLOT where the recipient's name goes.

    Rendering (premailer's CSS inlining above all) is the costly step of a send: a thousand recipients
    of the same digest need it once, then `personalize` per recipient.
    """
    return render_digest(summary, recipient_name=NAME_SLOT, templates=templates)


def personalize(shared: RenderedDigest, recipient_name: str) -> RenderedDigest | None:
    """`shared` with the recipient's name in place of NAME_SLOT, as `render_digest` would have put it;
    None when the templates transformed the name (a filter on it) so that it must be rendered for them."""
    name = plain_line(recipient_name, 80)
    if not name:
        return None
    # the characters lxml escapes in text, and `"` so that a name is safe in an attribute as well
    html_name = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    out = dataclasses.replace(
        shared,
        subject=_subject(shared.subject.replace(NAME_SLOT, name)) if NAME_SLOT in shared.subject
        else shared.subject,
        html=shared.html.replace(NAME_SLOT, html_name),
        text=shared.text.replace(NAME_SLOT, name),
        preheader=shared.preheader.replace(NAME_SLOT, name),
    )
    slot = NAME_SLOT.casefold()
    if any(slot in part.casefold() for part in (out.subject, out.html, out.text, out.preheader)):
        return None
    return out


def render_unanswered(alert: OverdueAlert, *, templates: Templates, recipient_name: str = "") -> RenderedDigest:
    """Subject, inlined HTML and plain text of a "still unanswered" alert."""
    return _render_notice("unanswered", templates, recipient_name, alert.summary_line, alert=alert)


def render_alert(spike: Spike, *, templates: Templates, recipient_name: str = "") -> RenderedDigest:
    """Subject, inlined HTML and plain text of a negative-spike alert."""
    return _render_notice("alert", templates, recipient_name, spike.summary_line, spike=spike)


def _render_notice(stem: str, templates: Templates, recipient_name: str, summary_line: str,
                   **model: Any) -> RenderedDigest:
    """An alert email from templates `stem`.subject/.html/.txt.j2, given its model (`spike=`, `alert=`)."""
    context: dict[str, Any] = {**model, "recipient_name": plain_line(recipient_name, 80)}
    subject = _subject(templates.render(f"{stem}.subject.j2", **context))
    preheader = plain_line(summary_line, 200)
    context.update(subject=subject, preheader=preheader)
    html = inline_css(templates.render(f"{stem}.html.j2", **context))
    text = _tidy_text(templates.render(f"{stem}.txt.j2", **context))
    return RenderedDigest(subject=subject, html=html, text=text, preheader=preheader)
