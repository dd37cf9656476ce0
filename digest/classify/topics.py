"""Topic keywords matched on stemmed whole words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .cues import words


class TopicMatcher:
    """Keyword lists matched on stemmed whole words, so "refund" finds "refunds" and "refunded"."""

    def __init__(self, topics: Mapping[str, Sequence[str]]) -> None:
        self._by_first: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        self._order = {name: k for k, name in enumerate(topics)}
        for name, keywords in topics.items():
            for keyword in keywords:
                key = tuple(words(keyword))
                if key:
                    self._by_first.setdefault(key[0], []).append((name, key))

    def __bool__(self) -> bool:
        return bool(self._by_first)

    def match(self, stems: Sequence[str]) -> tuple[str, ...]:
        """Names of the topics whose keywords occur in `stems`, in configuration order."""
        found: set[str] = set()
        for i, s in enumerate(stems):
            for name, key in self._by_first.get(s, ()):
                if name not in found and tuple(stems[i : i + len(key)]) == key:
                    found.add(name)
        return tuple(sorted(found, key=self._order.__getitem__))
