"""Per-second rates of cumulative counters, Prometheus's ``rate`` over two adjacent
samples (what its ``irate`` computes): a monotonic running total (an OTLP cumulative
monotonic sum, a Vector absolute counter; the decoders mark such a sample
``"cumulative": True``) becomes, from its second sample on, an extra sample
``<name>.rate`` = increase / seconds between the two. A window's ``mean`` of these
rates is Prometheus's ``rate`` over the window when the samples are evenly spaced.

Per series (name, host, service, labels) the core keeps the last sample's time and value:

- the series' first sample gives no rate (there is nothing to subtract);
- a later sample (``ts_ms`` greater than the last) with a value at or above the last
  gives ``(value - last) / ((ts_ms - last_ms) / 1000)``, at its own time, unit
  ``<unit>/s``, with the same host, service and labels;
- a smaller value is a counter reset (the shipper or the process restarted): it is kept
  as the new last sample and gives no rate. Prometheus would count the whole new value
  as the increase, but the counter may have restarted at any time in the interval, so
  the rate would be a guess; the next sample gives a true one;
- a sample at or before the last one's time (out of order, a duplicate, a replay) is
  ignored: neither a rate nor kept. So records read again after a rewind into the same
  core give no second rate, and into a fresh one (after a restart or a rebalance) the
  same rates as before except for each series' first replayed sample, which gives none.
  This state is not recovered after a restart.

**Bounded memory.** A series is held as a 64-bit hash of its identity with its last
time and value, about 200 bytes (measured in
tests/processors/firehose/test_counter_rates.py; two of 100,000 series sharing a hash
is a chance below 1 in 10^9). At most ``max_series`` series are held; past that the
least recently updated one is forgotten (:attr:`CounterRates.evicted`) and its next
sample is a first one again. Series are updated in turn, once per scrape, so a bound
below the number of live series forgets every series before its next sample and no rate
is made at all: the evictions counter says when to raise it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any


class CounterRates:
    def __init__(self, max_series: int) -> None:
        if max_series < 1:
            raise ValueError("need max_series >= 1")
        self.max_series = max_series
        self.evicted = 0  # series forgotten to keep at most max_series
        self._last: OrderedDict[int, tuple[int, float]] = OrderedDict()  # LRU order

    def __len__(self) -> int:
        return len(self._last)

    def rate(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        """The rate sample of a validated metric sample of a cumulative counter (fields
        ``ts_ms``, ``name``, ``value``, ``unit``, ``host``, ``service``, ``labels``), or
        None: its series' first sample, a reset, or a sample not newer than the last."""
        labels: dict[str, str] = record["labels"]
        series = hash(
            (record["name"], record["host"], record["service"], frozenset(labels.items()))
        )
        ts_ms: int = record["ts_ms"]
        value: float = record["value"]
        last = self._last.get(series)
        if last is None:
            if len(self._last) >= self.max_series:
                self._last.popitem(last=False)
                self.evicted += 1
            self._last[series] = (ts_ms, value)
            return None
        last_ms, last_value = last
        if ts_ms <= last_ms:
            return None
        self._last[series] = (ts_ms, value)
        self._last.move_to_end(series)
        if value < last_value:
            return None  # a reset
        unit = record["unit"]
        return {
            "ts_ms": ts_ms,
            "name": f"{record['name']}.rate",
            "value": (value - last_value) / ((ts_ms - last_ms) / 1000),
            "unit": f"{unit}/s" if unit else None,
            "host": record["host"],
            "service": record["service"],
            "labels": dict(labels),
        }
