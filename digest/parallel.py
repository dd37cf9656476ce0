"""Ingesting on every core: parsing feeds and classifying texts are CPU bound, and threads share one core.

`ClassifierPool` sends large batches to worker processes and keeps small ones in this process (a
worker round trip costs more than a few texts); its workers also fetch and parse sources (`fetch_all`),
each with threads of its own so that network waits still overlap. Workers are forked once, up front,
while the process has a single thread (forking later would copy locks other threads hold); a process
that already runs threads (the scheduler, a test server) fetches in its own threads and starts
classifying workers from a fork server, only when a large batch comes (that takes a second or two).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from datetime import datetime
from types import TracebackType

from .classify import Classifier
from .config import Config, SourceSpec
from .models import Classification, Mention, SourceResult
from .sources import FetchContext, fetch_source, stream_source
from .sources.http import Sessions

__all__ = ["POOL_MIN", "ClassifierPool", "classified_text", "classify_for_store", "fetch_one", "stream_one"]

log = logging.getLogger(__name__)

# Batches smaller than this are classified in this process.
POOL_MIN = 40
# Texts per task sent to a worker: large enough to amortise pickling, small enough to balance the cores.
CHUNK = 100

# Threads with which a worker fetches its group of sources (network waits overlap, parsing does not).
FETCH_THREADS = 8
# Groups of sources per worker: small enough that one slow source holds back few others' results.
GROUPS_PER_WORKER = 4

_classifier: Classifier | None = None  # the worker's own
_fetching: tuple[Config, Sessions] | None = None


def fetch_one(spec: SourceSpec, *, config: Config, state: Mapping[str, str], now: datetime,
              sessions: Sessions) -> SourceResult:
    """Fetch and parse one source with a session borrowed from `sessions`; never raises (see fetch_source)."""
    with sessions.borrow() as session:
        ctx = FetchContext(session=session, now=now, config=config, state=state,
                           deadline=time.monotonic() + max(60.0, float(getattr(spec, "timeout", 20.0)) * 4))
        return fetch_source(spec, ctx)


def stream_one(spec: SourceSpec, *, config: Config, state: Mapping[str, str], now: datetime,
               sessions: Sessions) -> Iterator[SourceResult]:
    """`fetch_one` of a source read in parts (sources.STREAMED): its parts, then its result (stream_source)."""
    with sessions.borrow() as session:
        ctx = FetchContext(session=session, now=now, config=config, state=state,
                           deadline=time.monotonic() + max(60.0, float(getattr(spec, "timeout", 20.0)) * 4))
        yield from stream_source(spec, ctx)


def _fetch_group(specs: list[SourceSpec], states: list[dict[str, str]], first: list[bool],
                 now: datetime) -> list[SourceResult]:
    """Fetch and parse a group of sources; classify the mentions that are new but for cross-source copies
    (see `fetch_all`), so that the storing process needs no other round trip for them."""
    assert _fetching is not None and _classifier is not None
    config, sessions = _fetching
    with ThreadPoolExecutor(max_workers=max(1, min(FETCH_THREADS, len(specs)))) as pool:
        results = list(pool.map(lambda spec, state: fetch_one(spec, config=config, state=state, now=now,
                                                              sessions=sessions), specs, states))
    new = [i for i, r in enumerate(results) if r.status == "ok" and r.mentions and (r.unseen or first[i])]
    found = iter(classify_for_store(_classifier, [classified_text(m) for i in new for m in results[i].mentions]))
    for i in new:
        results[i] = dataclasses.replace(results[i], classified=tuple(next(found) for _ in results[i].mentions))
    return results


def classified_text(m: Mention) -> str:
    """What of a mention is classified: its text, and its title unless the text holds it already."""
    return f"{m.title}\n{m.text}" if m.title and m.title not in m.text else m.text


def classify_for_store(classifier: Classifier, texts: Sequence[str]) -> list[Classification]:
    """`classify_many`, with each positive mention tagged with the praise topics it names.

    The digest counts praise topics from these tags (the store's rollups keep topic counts, not texts).
    """
    out = classifier.classify_many(texts)
    for i, (text, c) in enumerate(zip(texts, out, strict=True)):
        if c.sentiment == "positive" and not c.complaint and not c.topics:
            praise = classifier.praise_topics(text, classification=c)
            if praise:
                out[i] = dataclasses.replace(c, topics=praise)
    return out


def _init(classifier: Classifier, fetching: tuple[Config, Sessions] | None) -> None:
    global _classifier, _fetching
    _classifier = classifier
    _fetching = fetching
    # A worker must not outlive the process that started it. Killed (SIGKILL, the OOM killer, a
    # systemd timeout), that process leaves its workers waiting on their queue for ever -- and a forked
    # worker holds, through its copy of the descriptor, the ingest lock, so every later ingest would wait.
    # The OS parent: the ingesting process (fork, spawn) or the fork server, which ends with it.
    watched = os.getppid()
    threading.Thread(target=_exit_with_parent, args=(watched,), name="parent-watch", daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)  # the parent is gone: nobody waits for our results


def _classify(texts: list[str]) -> list[Classification]:
    assert _classifier is not None
    return classify_for_store(_classifier, texts)


class ClassifierPool:
    """`classify_for_store` over `workers` processes (default: one per core); use as a context manager.

    Given `fetching` (the configuration and the HTTP sessions), its workers can also fetch and parse
    sources (`fetch_all`): parsing feeds is as CPU bound as classifying them.
    """

    def __init__(self, classifier: Classifier, workers: int | None = None, *,
                 fetching: tuple[Config, Sessions] | None = None) -> None:
        self.classifier = classifier
        self.fetching = fetching
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._method = ""
        self._tried = self.workers < 2

    def __enter__(self) -> ClassifierPool:
        if not self._tried and "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
            self._tried = True
            self._pool = self._start("fork")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _start(self, method: str) -> ProcessPoolExecutor | None:
        self._method = method
        try:
            # fetching only with forked workers: they inherit the configuration and sessions as they
            # are (a fork server would have to pickle them)
            fetching = self.fetching if method == "fork" else None
            pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(method),
                                       initializer=_init, initargs=(self.classifier, fetching))
            pool.submit(os.getpid).result()  # start the workers now (fork: all at once, one thread here)
        except (OSError, RuntimeError) as exc:  # no processes allowed here: classify in this process
            log.warning("classifying in one process: cannot start workers (%s)", exc)
            return None
        log.debug("classifying with %d %s workers", self.workers, method)
        return pool

    @property
    def fetches(self) -> bool:
        """Whether `fetch_all` runs in the workers (else the caller fetches in its own threads)."""
        return self._pool is not None and self.fetching is not None and self._method == "fork"

    def fetch_all(self, specs: Sequence[SourceSpec], states: Mapping[str, Mapping[str, str]],
                  now: datetime, first: Container[str] = ()) -> Iterator[list[tuple[int, SourceResult]]]:
        """(index in `specs`, result) of every source, fetched and parsed in the workers, a group of sources
        at a time as the groups finish.

        Sources go out in groups, each fetched by a worker's threads; a worker that dies (killed, out of
        memory) has its groups fetched here instead. The workers also classify the mentions that are most
        likely new: those of sources fetched for the `first` time (by name), and those a source did not
        serve before (SourceResult.unseen); the others are left to the caller, who knows what is stored.
        """
        assert self._pool is not None and self.fetches
        n = min(len(specs), self.workers * GROUPS_PER_WORKER)
        groups = [list(range(i, len(specs), n)) for i in range(n)]
        futures = {self._pool.submit(_fetch_group, [specs[i] for i in group],
                                     [dict(states.get(specs[i].name, {})) for i in group],
                                     [specs[i].name in first for i in group], now): group
                   for group in groups}
        for future in as_completed(futures):
            group = futures[future]
            try:
                found = future.result()
            except Exception as exc:  # noqa: BLE001 - fetch_source never raises: the pool failed (a worker died)
                log.warning("fetching in this process: the workers could not (%s)", exc)
                assert self.fetching is not None
                config, sessions = self.fetching
                found = [fetch_one(specs[i], config=config, state=states.get(specs[i].name, {}), now=now,
                                   sessions=sessions) for i in group]
            yield list(zip(group, found, strict=True))

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        """Classifications of `texts`, in order; repeated texts are scored once."""
        return self.submit(texts)()

    def submit(self, texts: Sequence[str]) -> Callable[[], list[Classification]]:
        """Start classifying `texts` (in the workers, for a large batch); call the result for them.

        The caller can store one batch while the workers classify the next.
        """
        unique = list(dict.fromkeys(texts))
        if len(unique) >= POOL_MIN and not self._tried:
            self._tried = True
            self._pool = self._start("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                                     else "spawn")
        pool = self._pool
        if pool is None or len(unique) < POOL_MIN:
            found = classify_for_store(self.classifier, unique)
            return lambda: self._in_order(texts, unique, found)
        size = min(CHUNK, math.ceil(len(unique) / self.workers))
        futures = [pool.submit(_classify, unique[i:i + size]) for i in range(0, len(unique), size)]

        def gather() -> list[Classification]:
            try:
                found = [c for future in futures for c in future.result()]
            except BrokenExecutor as exc:  # a worker was killed (the OOM killer?): carry on here
                log.warning("classifying in one process: a worker died (%s)", exc)
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
                found = classify_for_store(self.classifier, unique)
            return self._in_order(texts, unique, found)

        return gather

    @staticmethod
    def _in_order(texts: Sequence[str], unique: list[str], found: list[Classification]) -> list[Classification]:
        by_text = dict(zip(unique, found, strict=True))
        return [by_text[t] for t in texts]
