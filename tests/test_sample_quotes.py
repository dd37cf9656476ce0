"""The sample's digests show, for each complaint topic, a quote that is about that topic (issue: a lost
suitcase filed under Loyalty programme by "Status report:", "Sent from seat 19E" under Seats).

The judge is this test's own: for each topic a few words that say a text is about it (not the shipped
keywords). A quote is on topic when its topic's words occur in it at least as often as any other topic's.
Every quote and the verdict are printed (pytest -s shows them)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import run_cli

JUDGE = {
    "Delays": r"delay|late|tarmac|missed (?:my )?connection|hours? (?:behind|late)",
    "Cancellations": r"cancel|rebook|stranded",
    "Baggage": r"\bbags?\b|baggage|luggage|suitcase|carousel",
    "Refunds & billing": r"refund|charged|charge|billed|\bfees?\b|credit",
    "Customer service": r"\brude\b|on hold|agent|disconnect|support|callback|dismissive|no answer",
    "App & website": r"\bapp\b|website|crash|log ?in|password|error",
    "Seats & comfort": r"\bseats?\b|legroom|recline|cramped|tray table",
    "Food": r"\bmeal|sandwich|food|snack|vegetarian",
    "Loyalty programme": r"\bmiles\b|points|loyalty|gold|expired",
}


def _on_topic(topic: str, text: str) -> bool:
    counts = {t: len(re.findall(p, text, re.IGNORECASE)) for t, p in JUDGE.items()}
    return counts.get(topic, 0) > 0 and counts[topic] >= max(counts.values())


@pytest.mark.project_store
def test_the_sample_digests_topic_quotes_are_about_their_topic(ingested_project: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    project = ingested_project
    verdicts: list[bool] = []
    lines = []
    for period in ("weekly", "monthly", "quarterly"):
        r = run_cli(capsys, "--config", str(project), "preview", period, "--format", "json")
        assert r.code == 0, r.err
        for topic in json.loads(r.out)["topics"]:
            quote = (topic.get("quote") or {}).get("text") or ""
            ok = _on_topic(topic["name"], quote)
            verdicts.append(ok)
            lines.append(f"{period:9} {'on ' if ok else 'OFF'} {topic['name']:18} {quote[:110]}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert len(verdicts) >= 20
    assert sum(verdicts) >= 0.9 * len(verdicts), "\n".join(lines)
