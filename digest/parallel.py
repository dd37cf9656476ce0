"""Classifying on every core: TextBlob and the rules are CPU bound, and threads share one core.

`ClassifierPool` sends large batches to worker processes and keeps small ones in this process (a
worker round trip costs more than a few texts). Workers are forked once, up front, while the process
has a single thread (forking later would copy locks other threads hold); a process that already runs
threads (the scheduler, a test server) starts them from a fork server, and only when a large batch
comes (a fork server takes a second or two to start).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from types import TracebackType

from .classify import Classifier
from .models import Classification

__all__ = ["POOL_MIN", "ClassifierPool", "classify_for_store"]

log = logging.getLogger(__name__)

# Batches smaller than this are classified in this process.
POOL_MIN = 40
# Texts per task sent to a worker: large enough to amortise pickling, small enough to balance the cores.
CHUNK = 100

_classifier: Classifier | None = None  # the worker's own


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


def _init(classifier: Classifier) -> None:
    global _classifier
    _classifier = classifier
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
    """`classify_for_store` over `workers` processes (default: one per core); use as a context manager."""

    def __init__(self, classifier: Classifier, workers: int | None = None) -> None:
        self.classifier = classifier
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
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
        try:
            pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(method),
                                       initializer=_init, initargs=(self.classifier,))
            pool.submit(os.getpid).result()  # start the workers now (fork: all at once, one thread here)
        except (OSError, RuntimeError) as exc:  # no processes allowed here: classify in this process
            log.warning("classifying in one process: cannot start workers (%s)", exc)
            return None
        log.debug("classifying with %d %s workers", self.workers, method)
        return pool

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        """Classifications of `texts`, in order; repeated texts are scored once."""
        unique = list(dict.fromkeys(texts))
        if len(unique) >= POOL_MIN and not self._tried:
            self._tried = True
            self._pool = self._start("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                                     else "spawn")
        found: list[Classification] | None = None
        if self._pool is not None and len(unique) >= POOL_MIN:
            size = min(CHUNK, math.ceil(len(unique) / self.workers))
            chunks = [unique[i:i + size] for i in range(0, len(unique), size)]
            try:
                found = [c for part in self._pool.map(_classify, chunks) for c in part]
            except BrokenExecutor as exc:  # a worker was killed (the OOM killer?): carry on here
                log.warning("classifying in one process: a worker died (%s)", exc)
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
        if found is None:
            found = classify_for_store(self.classifier, unique)
        by_text = dict(zip(unique, found, strict=True))
        return [by_text[t] for t in texts]
