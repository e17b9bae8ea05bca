"""``Metrics``: the instruments of one meter provider, shared by its Runtimes.

Counts are plain integers read by observable instruments when the reader
collects: a turn pays an addition, not an SDK measurement. Histograms (turn
and commit latency once per turn, store batch size and latency once per
batch) are the SDK's, and for the SDK's own meter provider binned by
``actors._histograms.BinnedHistogram``: handed to the SDK's aggregations
when a reader collects (the first observable callback flushes them), so a
reader sees the same histograms, for a few thousand instructions a
measurement instead of the SDK's ~55 k.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

NAME = "actorgraph"
SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
           2.5, 5.0, 10.0, 30.0, 60.0)  # fmt: skip
_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_SDK_HISTOGRAM = ("opentelemetry.sdk.metrics._internal.instrument", "_Histogram")


class Metrics:
    """The instruments of one meter provider, shared by the Runtimes that use it.

    The observable ones are read by the metric reader, perhaps from its own
    thread: callbacks copy a dict or set in one C-level step before reading it.
    """

    def __init__(self, meter: metrics.Meter) -> None:
        self.turns: dict[tuple[str, str], int] = {}
        self.tokens: dict[tuple[str, str, str], int] = {}
        self.activations = self.passivations = self.conflicts = 0
        self.threads: set[Any] = set()  # warm thread actors (they have a mailbox)
        self.stores: set[Any] = set()  # running store actors
        self.turn_duration = _histogram(meter, "turn.duration", "s", "a run's turn")
        self.commit_duration = _histogram(
            meter, "checkpoint.commit.duration", "s", "a checkpoint commit"
        )
        self.load_duration = _histogram(
            meter, "checkpoint.load.duration", "s", "an activation's thread load"
        )
        self.batch_duration = _histogram(
            meter, "store.batch.duration", "s", "a store batch at the backing store"
        )
        self.batch_size = _binned(
            meter.create_histogram(
                f"{NAME}.store.batch.size",
                "{operation}",
                "Operations per store batch.",
                explicit_bucket_boundaries_advisory=_SIZES,
            ),
            _SIZES,
        )
        self._binned = [
            h
            for h in (
                self.turn_duration,
                self.commit_duration,
                self.load_duration,
                self.batch_duration,
                self.batch_size,
            )
            if hasattr(h, "flush")
        ]
        self._observe(meter)

    def _observe(self, meter: metrics.Meter) -> None:
        counter, updown = (
            meter.create_observable_counter,
            meter.create_observable_up_down_counter,
        )
        counter(f"{NAME}.turns", [self._turns], "{turn}", "Runs' turns, by outcome.")
        counter(f"{NAME}.thread.activations", [self._activations], "{activation}")
        counter(f"{NAME}.thread.passivations", [self._passivations], "{passivation}")
        counter(f"{NAME}.checkpoint.conflicts", [self._conflicts], "{conflict}")
        counter(f"{NAME}.chat.tokens", [self._tokens], "{token}", "Chat-model tokens.")
        updown(f"{NAME}.threads.active", [self._active], "{thread}", "Warm threads.")
        meter.create_observable_gauge(
            f"{NAME}.mailbox.depth",
            [self._depth],
            "{message}",
            "Requests waiting in mailboxes, summed over the actors of a kind.",
        )

    def _turns(self, options: CallbackOptions) -> Iterable[Observation]:
        for histogram in self._binned:  # the first callback: before the reader reads
            histogram.flush()
        return [
            Observation(
                n, {"gen_ai.workflow.name": name, "actorgraph.run.outcome": how}
            )
            for (name, how), n in list(self.turns.items())
        ]

    def _tokens(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(
                n,
                {
                    "gen_ai.provider.name": provider,
                    "gen_ai.request.model": model,
                    "gen_ai.token.type": kind,
                },
            )
            for (provider, model, kind), n in list(self.tokens.items())
        ]

    def _activations(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.activations)]

    def _passivations(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.passivations)]

    def _conflicts(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.conflicts)]

    def _active(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(len(self.threads))]

    def _depth(self, options: CallbackOptions) -> Iterable[Observation]:
        threads, stores = list(self.threads), list(self.stores)
        return [
            Observation(
                sum(len(a.mailbox) for a in threads), {"actorgraph.actor": "thread"}
            ),
            Observation(
                sum(len(a.mailbox) for a in stores), {"actorgraph.actor": "store"}
            ),
        ]


def _histogram(meter: metrics.Meter, name: str, unit: str, what: str) -> Any:
    return _binned(
        meter.create_histogram(
            f"{NAME}.{name}",
            unit,
            f"Duration of {what}.",
            explicit_bucket_boundaries_advisory=SECONDS,
        ),
        SECONDS,
    )


def _binned(histogram: metrics.Histogram, boundaries: tuple[float, ...]) -> Any:
    """A ``BinnedHistogram`` over the SDK's own histogram, else ``histogram`` itself."""
    kind = type(histogram)
    if (kind.__module__, kind.__name__) != _SDK_HISTOGRAM:
        return histogram
    from ._histograms import BinnedHistogram

    return BinnedHistogram(histogram, boundaries)


_METRICS: weakref.WeakKeyDictionary[Any, Metrics] = weakref.WeakKeyDictionary()


def metrics_for(provider: metrics.MeterProvider) -> Metrics:
    """The one ``Metrics`` of ``provider`` (an instrument is created once per name)."""
    found = _METRICS.get(provider)
    if found is None:
        found = _METRICS[provider] = Metrics(provider.get_meter(NAME, version()))
    return found


def version() -> str:
    """This package's version, for the tracer's and meter's scope."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("actorgraph")
    except PackageNotFoundError:
        return "0"
