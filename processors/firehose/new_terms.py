"""A value never seen before for a key, after a learning period: the core of the
``new_term`` rule type (ElastAlert's ``new_term`` per ``query_key``; Falco's "rare
process" style detections).

Learning is per key, in event time: during ``learning_ms`` after a key's first record
its terms are only remembered; after that, a term the key has not seen is a match
(and remembered). ElastAlert learns from a history query at start-up; we have no
history to query, so each key learns from its own first records (a new host learns
its usual processes before it can alert on one).

**Bounded memory.** A key holds at most ``max_terms`` terms, as 64-bit hashes in
least-recently-seen order; past that the least recently seen term is forgotten, so a
term unseen for longer than ``max_terms`` other distinct terms counts as new again
(:attr:`NewTerms.evicted_terms`). At most ``max_keys`` keys are held; past that the
least recently seen key is forgotten and learns again from its next record
(:attr:`NewTerms.evicted_keys`). So the core holds at most ``max_keys * max_terms``
terms, about 120 bytes each (measured in tests/processors/firehose/test_new_terms.py). Nothing is
recovered after a restart: every key learns again (no false matches; new terms during
that time are missed).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NewTermMatch:
    key: str
    ts_ms: int
    term: str
    known_terms: int  # terms the key held before this one


class _Terms:
    __slots__ = ("first_ms", "terms")

    def __init__(self, first_ms: int) -> None:
        self.first_ms = first_ms
        self.terms: OrderedDict[int, None] = OrderedDict()


class NewTerms:
    def __init__(self, *, learning_ms: int, max_terms: int, max_keys: int) -> None:
        if learning_ms < 0 or max_terms < 1 or max_keys < 1:
            raise ValueError("need learning_ms >= 0, max_terms >= 1, max_keys >= 1")
        self.learning_ms = learning_ms
        self.max_terms = max_terms
        self.max_keys = max_keys
        self.evicted_terms = 0
        self.evicted_keys = 0
        self._keys: OrderedDict[str, _Terms] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def terms_held(self) -> int:
        return sum(len(k.terms) for k in self._keys.values())

    def add(self, key: str, ts_ms: int, term: str) -> NewTermMatch | None:
        known = self._keys.get(key)
        if known is None:
            if len(self._keys) >= self.max_keys:
                self._keys.popitem(last=False)
                self.evicted_keys += 1
            known = self._keys[key] = _Terms(ts_ms)
        else:
            self._keys.move_to_end(key)
            if ts_ms < known.first_ms:
                known.first_ms = ts_ms
        terms = known.terms
        digest = hash(term)
        if digest in terms:
            terms.move_to_end(digest)
            return None
        held = len(terms)
        if held >= self.max_terms:
            terms.popitem(last=False)
            self.evicted_terms += 1
        terms[digest] = None
        if ts_ms < known.first_ms + self.learning_ms:
            return None
        return NewTermMatch(key, ts_ms, term, held)
