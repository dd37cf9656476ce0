"""The digest's Summary as plain JSON data: the figures the email shows, for dashboards and checks.

Shares are fractions (0..1), counts are integers, times are ISO 8601 with their offset. One function,
`summary_dict`, builds the whole object; a new digest section adds its key there.
"""

from __future__ import annotations

import json
from typing import Any

from .analysis import Change, Kpi, PhraseRow, Quote, Responses, Summary
from .analysis.responses import ResponseRow

JSON_VERSION = 1


def _fraction(share_pct: float) -> float:
    return round(share_pct / 100.0, 4)


def _change(change: Change | None, *, share: bool = False) -> dict[str, Any] | None:
    if change is None:
        return None
    return {
        "against": change.against,
        "previous": _fraction(change.previous) if share else round(change.previous, 2),
        "delta": round(change.delta / 100.0, 4) if share else round(change.delta, 2),
        "pct": None if change.pct is None else round(change.pct, 1),
        "direction": change.direction,
        "display": change.display,
    }


def _kpi_changes(kpi: Kpi) -> dict[str, Any]:
    share = kpi.key == "negative_share"
    return {"vs_previous": _change(kpi.vs_previous, share=share),
            "vs_year_ago": _change(kpi.vs_year_ago, share=share)}


def _quote(q: Quote | None) -> dict[str, Any] | None:
    if q is None:
        return None
    return {"text": q.text, "url": q.url, "channel": q.channel, "author": q.author,
            "published": q.published.isoformat(), "sentiment": q.sentiment, "influence": q.influence}


def _phrase(p: PhraseRow) -> dict[str, Any]:
    return {"phrase": p.text, "count": p.count, "baseline_per_period": round(p.baseline_per_period, 2),
            "growth": p.growth, "emerging": p.emerging, "quote": _quote(p.quote)}


def _responses(r: Responses | None) -> dict[str, Any] | None:
    """SPEC "Additions" `responses`; None when no source can show the brand's answers."""
    if r is None or not r.can_show:
        return None
    t = r.total

    def row(x: ResponseRow) -> dict[str, Any]:
        return {"addressed": x.addressed, "answered": x.answered,
                "rate": None if x.rate is None else _fraction(x.rate),
                "median_first_response_minutes": None if x.median_minutes is None else round(x.median_minutes, 1),
                "complaints_addressed": x.complaints_addressed, "complaints_answered": x.complaints_answered,
                "complaints_rate": None if x.complaints_rate is None else _fraction(x.complaints_rate),
                "complaints_median_first_response_minutes": None if x.complaints_median_minutes is None
                else round(x.complaints_median_minutes, 1)}

    return {**row(t), "as_of": r.as_of.isoformat(), "rate_change": _change(r.rate_change, share=True),
            "median_change": _change(r.median_change),
            "channels": [{"channel": c.channel, **row(c)} for c in r.channels],
            "unanswered_total": r.unanswered.total,
            "unanswered": [{"text": q.text, "url": q.url, "channel": q.channel, "author": q.author,
                            "published": q.published.isoformat(), "influence": q.influence, "alike": q.alike}
                           for q in r.unanswered]}


def _voice(s: Summary) -> dict[str, Any]:
    """`share_of_voice` (only with competitors configured): each organisation, the brand first."""
    if s.share_of_voice is None:
        return {}
    rows = []
    for r in s.share_of_voice.rows:
        row: dict[str, Any] = {
            "name": r.name, "brand": r.brand, "mentions": r.mentions, "share": _fraction(r.share),
            "negative_share": _fraction(r.negative_share) if r.mentions else None,
            "net_sentiment": round(r.net_sentiment, 1) if r.mentions else None, "complaints": r.complaints,
            "share_change": _change(r.share_change, share=True), "top_complaint": r.top_complaint,
            "counted_since": r.counted_since.isoformat() if r.counted_since is not None else None}
        if s.share_of_voice.responses:
            row["response_rate"] = None if r.response_rate is None else _fraction(r.response_rate)
            row["median_first_response_minutes"] = None if r.median_wait_minutes is None \
                else round(r.median_wait_minutes, 1)
        rows.append(row)
    return {"share_of_voice": rows, "share_of_voice_sentence": s.share_of_voice.sentence,
            "share_of_voice_note": s.share_of_voice.note}


def summary_dict(s: Summary) -> dict[str, Any]:
    """The JSON object of `s` (see SPEC.md "Additions" for the keys outside checks rely on)."""
    volume = int(s.volume.value)
    return {
        "version": JSON_VERSION,
        "brand": s.brand,
        "period": s.period,
        "label": s.window_label,
        "start": s.window.start.isoformat(),
        "end": s.window.end.isoformat(),
        "timezone": s.timezone,
        "generated_at": s.generated_at.isoformat(),
        "channels_filter": list(s.channels_filter),
        "headline": s.headline,
        "kpis": {
            "mentions": volume,
            "negative_share": _fraction(s.negative_share.value) if volume > s.unscored else None,
            "net_sentiment": round(s.net_sentiment.value, 1) if volume > s.unscored else None,
            "complaints": int(s.complaints.value),
            "negative": s.negative,
            "neutral": s.neutral,
            "positive": s.positive,
        },
        "changes": {k.key if k.key != "volume" else "mentions": _kpi_changes(k) for k in s.kpis},
        "channels": [{"channel": c.channel, "label": c.label, "mentions": c.volume, "negative": c.negative,
                      "negative_share": _fraction(c.negative_share),
                      "change": _change(c.change)} for c in s.channels.rows],
        "topics": [{"name": t.name, "complaints": t.count, "share": _fraction(t.share),
                    "change": _change(t.change), "quote": _quote(t.quote)} for t in s.topics.rows],
        "uncategorized_complaints": s.uncategorized_complaints,
        "phrases": [_phrase(p) for p in s.phrases.rows],
        "emerging": [_phrase(p) for p in s.emerging.rows],
        "most_negative": [_quote(q) for q in s.most_negative.rows],
        "most_influential": [_quote(q) for q in s.most_influential.rows],
        "praise": {"count": s.praise.count,
                   "topics": [{"name": t.name, "count": t.count} for t in s.praise.topics.rows],
                   "quotes": [_quote(q) for q in s.praise.quotes.rows]},
        "health": {"sources": s.health.total, "ok": s.health.ok, "complete": s.health.complete,
                   "sentence": s.health.sentence, "unscored_sentence": s.unscored_note,
                   "problems": [{"source": h.name, "status": h.status, "detail": h.detail}
                                for h in s.health.problems.rows]},
        "responses": _responses(s.responses),
        "unscored": s.unscored,  # mentions in a language the classifier cannot score (SPEC "Additions")
        # code -> mentions of the period (SPEC "Additions"); "und": too short to tell, or stored before detection
        "languages": {r.code: r.mentions for r in s.languages},
        "language_table": [{"language": r.code, "name": r.name, "mentions": r.mentions,
                            "share": _fraction(r.share), "scored": r.scored,
                            "negative_share": _fraction(r.negative_share) if r.negative_share is not None else None}
                           for r in s.languages],
        **_voice(s),
    }


def summary_json(s: Summary) -> str:
    """`summary_dict(s)` as indented JSON text, ending in a newline."""
    return json.dumps(summary_dict(s), ensure_ascii=False, indent=2) + "\n"
