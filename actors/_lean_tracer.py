"""``LeanTracer``: ``start_span`` as the SDK's tracer does it, making ``LeanSpan``s.

See ``actors._lean`` for what is left out and which per-span steps are
short-circuited. ``start`` is the runtime's own entry (attributes it owns,
all valid); ``start_span``/``start_as_current_span`` are the API's. This
module imports the SDK: ``actors._spans`` imports it only for an SDK
provider. Nothing here blocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import contextmanager
from random import getrandbits
from typing import Any

from opentelemetry import trace
from opentelemetry.context.context import Context
from opentelemetry.sdk.trace import SynchronousMultiSpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from opentelemetry.trace import INVALID_SPAN_CONTEXT, Link, SpanContext, SpanKind
from opentelemetry.trace.span import DEFAULT_TRACE_STATE
from opentelemetry.util.types import AttributeValue

from . import _otel_context as ctx
from ._lean import (
    _FLAGS,  # pyright: ignore[reportPrivateUsage]
    _NOOP_ENDINGS,  # pyright: ignore[reportPrivateUsage]
    _NOOP_STARTS,  # pyright: ignore[reportPrivateUsage]
    _TUPLE_CONTEXT,  # pyright: ignore[reportPrivateUsage]
    LeanSpan,
    cleaned,
)

_new_context: Callable[..., SpanContext] = tuple.__new__  # type: ignore[assignment]
_Hook = Callable[..., None]
_SDK_FIELDS = (
    "sampler",
    "resource",
    "span_processor",
    "id_generator",
    "_instrumentation_scope",
    "_is_enabled",
)


def fits(sdk: Any) -> bool:
    """True if ``sdk`` (the SDK's tracer) has the fields this module reads."""
    return all(hasattr(sdk, field) for field in _SDK_FIELDS)


class LeanTracer(trace.Tracer):
    """The SDK tracer ``sdk``'s sampler, ids, resource, scope and processors."""

    def __init__(self, sdk: Any) -> None:
        self._sdk = sdk
        self.sampler = sdk.sampler
        self.resource = sdk.resource
        self.processor = sdk.span_processor
        self.ids = sdk.id_generator
        self.scope = sdk._instrumentation_scope  # pyright: ignore[reportPrivateUsage]
        self.random_ids: bool = self.ids.is_trace_id_random()
        self.fast = _fast_sampler(self.sampler) if _TUPLE_CONTEXT else None
        self._own_ids = type(self.ids) is RandomIdGenerator
        multi = self.processor
        self._multi = multi if type(multi) is SynchronousMultiSpanProcessor else None
        self._procs: object = None
        self._starts: tuple[_Hook, ...] = ()
        self._endings: tuple[_Hook, ...] = ()
        self._ends: tuple[_Hook, ...] = ()  # for a span not sampled (RECORD_ONLY)
        self._sampled_ends: tuple[_Hook, ...] = ()
        self._unroll()

    def _unroll(self) -> None:
        """The processors' hooks worth calling, for the provider's processors now."""
        multi = self._multi
        if multi is None or not hasattr(multi, "_span_processors"):
            one = self.processor
            self._starts, self._ends = (one.on_start,), (one.on_end,)
            ending = getattr(one, "_on_ending", None)
            self._endings = (ending,) if ending is not None else ()
            self._sampled_ends = self._ends
            return
        procs: tuple[Any, ...] = multi._span_processors  # pyright: ignore[reportPrivateUsage]
        self._procs = procs
        kinds: list[Any] = [type(p) for p in procs]
        self._starts = tuple(
            p.on_start
            for p, kind in zip(procs, kinds, strict=True)
            if getattr(kind, "on_start", None) not in _NOOP_STARTS
        )
        self._endings = tuple(
            p._on_ending
            for p, kind in zip(procs, kinds, strict=True)
            if hasattr(p, "_on_ending")
            and getattr(kind, "_on_ending", None) not in _NOOP_ENDINGS
        )
        self._ends = tuple(p.on_end for p in procs)
        self._sampled_ends = tuple(_sampled_end(p) for p in procs)

    def ended(self, span: LeanSpan) -> None:
        """Hand the just-ended ``span`` to the processors."""
        multi = self._multi
        if multi is not None and multi._span_processors is not self._procs:  # pyright: ignore[reportPrivateUsage]
            self._unroll()  # a processor was added since
        for hook in self._endings:
            hook(span)
        context: Any = span._context  # pyright: ignore[reportPrivateUsage]
        flags = context[3] if _TUPLE_CONTEXT else context.trace_flags
        for hook in self._sampled_ends if flags & 1 else self._ends:
            hook(span)

    def start(
        self,
        name: str,
        context: Context | None,
        kind: SpanKind,
        attributes: dict[str, AttributeValue],
        start_time: int | None = None,
        links: Sequence[Link] = (),
    ) -> trace.Span:
        """A started span; ``attributes`` (valid values only) become the span's own.

        ``context``: the parent's (None: the current one).
        """
        fast = self.fast
        if fast is None or not self._sdk._is_enabled():  # pyright: ignore[reportPrivateUsage]
            return self._general(name, context, kind, attributes, links, start_time)
        held: Any = (ctx.current() if context is None else context).get(ctx.SPAN_KEY)
        if held is not None and type(held) is not LeanSpan:
            held = held if isinstance(held, trace.Span) else None
        parent: Any = held.get_span_context() if held is not None else None
        own = self._own_ids
        if parent is not None and parent[5]:  # valid: the parent's trace
            trace_id, flags, state = parent[0], parent[3], parent[4]
            sampled, random_ids = fast == "on" or flags & 1 == 1, flags & 2 == 2
        else:
            parent, sampled, random_ids, state = (
                None,
                True,
                self.random_ids,
                DEFAULT_TRACE_STATE,
            )
            trace_id = getrandbits(128) if own else 0
            trace_id = trace_id or self.ids.generate_trace_id()
        span_id = (getrandbits(64) if own else 0) or self.ids.generate_span_id()
        span_context = _new_context(
            SpanContext,
            (trace_id, span_id, False, _FLAGS[sampled, random_ids], state, True),
        )
        if not sampled:
            return trace.NonRecordingSpan(span_context)
        return self._started(
            LeanSpan(self, name, span_context, parent, kind, attributes, time.time_ns() if start_time is None else start_time),
            links,
            context,
        )  # fmt: skip

    def _started(
        self, span: LeanSpan, links: Sequence[Link], context: Context | None
    ) -> LeanSpan:
        """``span`` with its links, told to the processors that want to know."""
        if links:
            span._links = tuple(links)  # pyright: ignore[reportPrivateUsage]
        for hook in self._starts:
            hook(span, context)
        return span

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        kept = cleaned(attributes) if attributes else {}
        if self.fast is not None:
            return self.start(name, context, kind, kept, start_time, links or ())
        return self._general(name, context, kind, kept, links or (), start_time)

    def _general(
        self,
        name: str,
        context: Context | None,
        kind: SpanKind,
        attributes: dict[str, AttributeValue],
        links: Sequence[Link],
        start_time: int | None,
    ) -> trace.Span:
        """``start_span`` through the provider's sampler and id generator."""
        parent: SpanContext | None = trace.get_current_span(context).get_span_context()
        if not self._sdk._is_enabled():  # pyright: ignore[reportPrivateUsage]
            return trace.NonRecordingSpan(parent or INVALID_SPAN_CONTEXT)
        if parent.is_valid:
            trace_id, random_ids = parent.trace_id, parent.trace_flags.random_trace_id
        else:
            parent = None
            trace_id, random_ids = self.ids.generate_trace_id(), self.random_ids
        found = self.sampler.should_sample(
            context, trace_id, name, kind, attributes, links
        )
        sampled = found.decision.is_sampled()
        span_context = SpanContext(
            trace_id,
            self.ids.generate_span_id(),
            is_remote=False,
            trace_flags=_FLAGS[sampled, random_ids],
            trace_state=found.trace_state,
        )
        if not found.decision.is_recording():
            return trace.NonRecordingSpan(span_context)
        extra = found.attributes
        kept = cleaned(extra) if extra else {}
        start = start_time if start_time is not None else time.time_ns()
        span = LeanSpan(self, name, span_context, parent, kind, kept, start)
        return self._started(span, links, context)

    @contextmanager
    def start_as_current_span(  # pyright: ignore[reportIncompatibleMethodOverride]
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Generator[trace.Span]:
        span = self.start_span(name, context, kind, attributes, links, start_time)
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


def _sampled_end(processor: Any) -> _Hook:
    """``processor``'s ``on_end`` for a sampled span: a batch processor's queue directly."""
    if type(processor) is BatchSpanProcessor:
        batch = getattr(processor, "_batch_processor", None)
        emit = getattr(batch, "emit", None)
        if emit is not None:
            return emit
    return processor.on_end


def _fast_sampler(sampler: Any) -> str | None:
    """ "on" for the SDK's ``ALWAYS_ON``, "parent" for ``ParentBased(ALWAYS_ON)``
    with its default delegates, else None: the sampler is called per span."""
    if sampler is ALWAYS_ON:
        return "on"
    delegates = (
        "_root",
        "_remote_parent_sampled",
        "_local_parent_sampled",
        "_remote_parent_not_sampled",
        "_local_parent_not_sampled",
    )
    if type(sampler) is not ParentBased:
        return None
    wanted = (ALWAYS_ON,) * 3 + (ALWAYS_OFF,) * 2
    if all(
        getattr(sampler, f, None) is w for f, w in zip(delegates, wanted, strict=True)
    ):
        return "parent"
    return None
