"""``BinnedHistogram``: a reader sees what the SDK's own ``record`` would have given it."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
)
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)

from actors._histograms import BinnedHistogram
from actors._metrics import SECONDS, Metrics, metrics_for

# exact in binary, so sums do not depend on the order of additions
VALUES = [0.0, 0.25, 0.0009765625, 0.5, 3.0, 0.25, 100.0, 0.0078125, 0.5, 2.0]
ATTRS = [None, {"a": "x"}, {"a": "x", "b": 1}, {"a": "y"}]


def _readers(temporality: AggregationTemporality) -> list[InMemoryMetricReader]:
    from opentelemetry.sdk.metrics import Histogram

    return [
        InMemoryMetricReader(preferred_temporality={Histogram: temporality})
        for _ in range(2)
    ]


def _points(reader: InMemoryMetricReader) -> list[Any]:
    """The histogram points the reader gets, less their timestamps."""
    data = reader.get_metrics_data()
    found: list[Any] = []
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if "duration" not in metric.name:
                    continue
                for p in metric.data.data_points:
                    found.append(
                        (metric.name, metric.unit, metric.description,
                         type(metric.data).__name__, sorted((p.attributes or {}).items()),
                         getattr(p, "count", None), getattr(p, "sum", None),
                         getattr(p, "min", None), getattr(p, "max", None),
                         tuple(getattr(p, "bucket_counts", ()) or ()),
                         tuple(getattr(p, "explicit_bounds", ()) or ()))
                    )  # fmt: skip
    return sorted(found, key=repr)


def _run(
    binned: bool, temporality: AggregationTemporality, views: list[View]
) -> list[Any]:
    readers = _readers(temporality)
    provider = MeterProvider(metric_readers=readers, views=views)
    metrics = Metrics(provider.get_meter("actorgraph", "0"))
    histogram = metrics.turn_duration
    assert isinstance(histogram, BinnedHistogram)
    if not binned:
        histogram = histogram._instrument  # pyright: ignore[reportPrivateUsage]
    out: list[Any] = []
    for round_ in range(3):
        for i, value in enumerate(VALUES * (round_ + 1)):
            histogram.record(value, ATTRS[i % len(ATTRS)])
        out.append([_points(r) for r in readers])
    return out


@pytest.mark.parametrize(
    "temporality", [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]
)
@pytest.mark.parametrize(
    "views",
    [
        [],
        [View(instrument_name="*turn*", attribute_keys={"a"})],
        [View(instrument_name="*turn*", aggregation=ExplicitBucketHistogramAggregation((0.1, 1.0)))],
        [View(instrument_name="*turn*", aggregation=ExponentialBucketHistogramAggregation())],
    ],
    ids=["default", "attribute-keys", "other-bounds", "exponential"],
)  # fmt: skip
def test_readers_see_what_record_gives_them(
    temporality: AggregationTemporality, views: list[View]
) -> None:
    binned = _run(True, temporality, views)
    assert binned == _run(False, temporality, views)
    assert binned[0][0], "the readers got the histogram"


def test_bins_only_where_the_sdk_has_the_shape_merged_into() -> None:
    plain = Metrics(
        MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("x")
    )
    assert plain.turn_duration.binning
    other = MeterProvider(
        metric_readers=[InMemoryMetricReader()],
        views=[View(instrument_name="*", aggregation=ExplicitBucketHistogramAggregation((1.0,)))],
    )  # fmt: skip
    assert not Metrics(other.get_meter("x")).turn_duration.binning


def test_a_reader_added_later_sees_only_what_came_after() -> None:
    first = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[first])
    histogram = metrics_for(provider).commit_duration
    for value in VALUES:
        histogram.record(value)
    second = InMemoryMetricReader()
    provider.add_metric_reader(second)  # pyright: ignore[reportAttributeAccessIssue]
    for value in VALUES[:3]:
        histogram.record(value)
    assert [p[5] for p in _points(first)] == [len(VALUES) + 3]
    assert [p[5] for p in _points(second)] == [3]
    assert histogram.binning


def test_invalid_values_go_to_record_and_are_dropped_as_it_drops_them() -> None:
    reader = InMemoryMetricReader()
    histogram = metrics_for(MeterProvider(metric_readers=[reader])).turn_duration
    for value in (0.5, 0.5, -1.0, float("nan"), float("inf"), 0.25):
        histogram.record(value)
    [point] = _points(reader)
    assert point[5:9] == (3, 1.25, 0.25, 0.5)
    assert point[10] == SECONDS


def test_unhashable_attribute_values_go_to_record() -> None:
    reader = InMemoryMetricReader()
    histogram = metrics_for(MeterProvider(metric_readers=[reader])).turn_duration
    for _ in range(3):
        histogram.record(0.5, {"a": ["x", "y"]})  # pyright: ignore[reportArgumentType]
    [point] = _points(reader)
    assert point[4] == [("a", ("x", "y"))] and point[5] == 3
