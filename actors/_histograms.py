# pyright: reportPrivateUsage=false
"""``BinnedHistogram``: an SDK histogram whose measurements we bin ourselves.

The SDK's ``Histogram.record`` costs about 55 k instructions a measurement
(a ``Measurement``, the exemplar filter, a copy and a hash of the
attributes per reader, two locks, a bisect: bench/NOTES.md, "Tracing, stop
22"), and a turn records two or three. Here a measurement is binned into
our own bucket counts, sum, min and max per attribute set (one uncontended
lock, one bisect); when a metric reader collects, ``flush`` (called by the
first of our observable instruments' callbacks, which the SDK runs before
it reads its storage) adds them to the SDK's own aggregations, so every
reader sees the standard histogram it would have seen: the same name, unit,
boundaries, attributes, counts, sum, min and max.

The first measurement of an attribute set in each collection interval goes
through ``record`` itself, so the SDK creates that set's aggregations (with
their start times, views, attribute filters, cardinality limit) as it always
does. Everything else goes through ``record`` too unless the SDK has the
shape this module was written against (opentelemetry-sdk 1.4x: checked
once, and again whenever a reader is added or removed): every reader's
aggregation for the instrument is the explicit-bucket one with our
boundaries, and the exemplar filter would not sample ours anyway (not
always-on). Only the SDK's ``_Histogram`` is ever wrapped (``binned``).

Nothing blocks but for the short locks; nothing raises for a measurement.
"""

from __future__ import annotations

import logging
import math
import threading
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.metrics._internal._view_instrument_match import (
    _hash_attributes,
)
from opentelemetry.sdk.metrics._internal.aggregation import (
    _ExplicitBucketHistogramAggregation,
)
from opentelemetry.sdk.metrics._internal.exemplar import AlwaysOnExemplarFilter

log = logging.getLogger("actors")
_INF = math.inf
_MATCH = ("_lock", "_view", "_aggregation", "_get_or_create_aggregation")
_AGGREGATION = ("_lock", "_value", "_sum", "_min", "_max", "_record_min_max")


class BinnedHistogram:
    """``record(amount, attributes, context)`` as the SDK histogram's, binned here."""

    __slots__ = (
        "_bounds",
        "_consumer",
        "_instrument",
        "_lock",
        "_pending",
        "_storages",
    )

    def __init__(self, instrument: Any, boundaries: Sequence[float]) -> None:
        self._instrument = instrument
        self._bounds = tuple(float(b) for b in boundaries)
        self._lock = threading.Lock()
        # attribute key -> [bucket counts, sum, min, max, attributes]
        self._pending: dict[tuple[Any, ...], list[Any]] = {}
        self._consumer: Any = getattr(instrument, "_measurement_consumer", None)
        self._storages: Any = None  # the readers' storages binning was checked for
        self._check()

    @property
    def binning(self) -> bool:
        """True while measurements are binned here (False: each goes to ``record``)."""
        return self._storages is not None

    def record(
        self,
        amount: float,
        attributes: Mapping[str, Any] | None = None,
        context: Any = None,
    ) -> None:
        """Bin ``amount`` (a finite value >= 0) for ``attributes``' set, or ``record`` it."""
        key = tuple(attributes.items()) if attributes else ()
        with self._lock:
            try:
                bins = self._pending.get(key)
            except TypeError:  # an unhashable value: the SDK's to judge
                bins = None
            if (
                bins is not None
                and self._consumer._reader_storages is self._storages
                and 0.0 <= amount < _INF
            ):
                bins[0][bisect_left(self._bounds, amount)] += 1
                bins[1] += amount
                if amount < bins[2]:
                    bins[2] = amount
                if amount > bins[3]:
                    bins[3] = amount
                return
        self._slow(key, amount, attributes, context)

    def _slow(
        self,
        key: tuple[Any, ...],
        amount: float,
        attributes: Mapping[str, Any] | None,
        context: Any,
    ) -> None:
        if self._storages is not None and (
            self._consumer._reader_storages is not self._storages
        ):
            self.flush()  # into the readers that were there when it was binned
            self._check()
        self._instrument.record(amount, attributes, context=context)
        try:
            hash(key)
        except TypeError:
            return
        if self._storages is not None and self._instrument._is_enabled():
            empty = [0] * (len(self._bounds) + 1)
            with self._lock:
                self._pending.setdefault(key, [empty, 0, _INF, -_INF, attributes])

    def flush(self) -> None:
        """Add what was binned to every reader's aggregations (at collect time)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        storages = self._storages
        if storages is None:
            return
        for counts, total, low, high, attributes in pending.values():
            if not any(counts):
                continue
            for storage in storages.values():
                for match in storage._get_or_init_view_instrument_match(
                    self._instrument
                ):
                    _merge(match, attributes, counts, total, low, high)

    def _check(self) -> None:
        """Bin from now on if the SDK has the shape this module merges into."""
        self._storages = None
        try:
            storages = self._consumer._reader_storages
            if isinstance(
                self._consumer._sdk_config.exemplar_filter, AlwaysOnExemplarFilter
            ):
                return
            for storage in storages.values():
                for match in storage._get_or_init_view_instrument_match(
                    self._instrument
                ):
                    if not _mergeable(match, self._bounds):
                        return
        except AttributeError:
            return  # an SDK this module was not written against
        self._storages = storages


def _mergeable(match: Any, bounds: tuple[float, ...]) -> bool:
    found: Any = match._aggregation
    return (
        all(hasattr(match, name) for name in _MATCH)
        and hasattr(match._view, "_attribute_keys")
        and type(found) is _ExplicitBucketHistogramAggregation
        and all(hasattr(found, name) for name in _AGGREGATION)
        and tuple(found._boundaries) == bounds
    )


def _merge(
    match: Any,
    attributes: Mapping[str, Any] | None,
    counts: list[int],
    total: float,
    low: float,
    high: float,
) -> None:
    """Add one attribute set's bins to ``match``'s aggregation for that set."""
    found: dict[str, Any] = dict(attributes) if attributes else {}
    keys = match._view._attribute_keys
    if keys is not None:
        found = {k: v for k, v in found.items() if k in keys}
    with match._lock:
        aggregation: Any = match._get_or_create_aggregation(
            _hash_attributes(found), found
        )
    if type(aggregation) is not _ExplicitBucketHistogramAggregation:
        log.warning("histogram %s: bins not merged", match._instrument.name)
        return
    with aggregation._lock:
        value = aggregation._value
        if value is None:
            value = aggregation._value = [0] * len(counts)
        for i, n in enumerate(counts):
            value[i] += n
        aggregation._sum += total
        if aggregation._record_min_max:
            aggregation._min = min(aggregation._min, low)
            aggregation._max = max(aggregation._max, high)
