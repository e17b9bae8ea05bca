"""OTLP/protobuf for finished spans, written directly: ``encode_spans`` and ``OtlpSpanExporter``.

The SDK's OTLP exporters build a protobuf object per span, attribute and
value (``opentelemetry-exporter-otlp-proto-common``'s ``encode_spans``), and
hash each span's ``Resource`` (a ``json.dumps``) to group them: about 25 µs
per span on the bench machine (bench/NOTES.md), more than making the span.
``encode_spans`` here writes the same ``ExportTraceServiceRequest`` bytes from
the spans' public ``ReadableSpan`` fields in one pass, with the wire format of
``opentelemetry-proto`` (trace/v1, common/v1, resource/v1): the same message
field for field once decoded (tests/runtime/test_tracing_otlp.py checks it
against the SDK's encoding). Spans are grouped by resource and
instrumentation scope in order of first appearance, as the SDK does; equal
resources that are distinct objects are compared once per batch, not hashed
per span. Lean spans are written by ``runtime/_otlp_native.c`` if it was
compiled at install (``hatch_build.py``), the same bytes; a span it does not
handle (events, links, a trace state, other values), or all without it, here.

``OtlpSpanExporter`` is the SDK's OTLP/HTTP protobuf exporter
(``opentelemetry-exporter-otlp-proto-http``: endpoint, headers, TLS,
compression, retries, the ``OTEL_EXPORTER_OTLP_*`` environment) with this
encoding. Neither blocks but for the exporter's HTTP post (on the span
processor's thread); an attribute value the format cannot carry is skipped,
as the SDK skips it after logging.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from struct import Struct
from typing import Any, cast

from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

try:
    from runtime import _otlp_native as _native
except ImportError:  # no C compiler at install: the Python encoder below
    _native = None

log = logging.getLogger("runtime")
_IDS = Struct(">BBQQBBQ").pack  # trace_id (16 bytes) and span_id (8) with their tags
# the span's field tag, a length byte (set once written), the ids, the parent's id
_IDS_ONLY = Struct(">BBBBQQBBQ").pack
_IDS_PARENT = Struct(">BBBBQQBBQBBQ").pack
_SHORT_KV = Struct("BB").pack  # a tag and a length under 128
_PARENT = Struct(">BBQ").pack  # parent_span_id with its tag
_TIMES = Struct("<BQBQ").pack  # start and end time (fixed64) with their tags
_M64 = (1 << 64) - 1
_Q = Struct("<Q").pack  # fixed64
_I = Struct("<I").pack  # fixed32
_D = Struct("<d").pack  # double
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200  # SpanFlags masks
_SMALL = [bytes((n,)) for n in range(128)]
_KINDS = {kind: b"\x30" + _SMALL[kind.value + 1] for kind in SpanKind}  # INTERNAL is 1
_KIND_ORDER = tuple(sorted(SpanKind, key=lambda kind: kind.value))  # for the C encoder
_KEYS: dict[str, bytes] = {}  # attribute key -> its KeyValue's key field
_TEXTS: dict[tuple[str, str], bytes] = {}  # (key, str value) -> its KeyValue message
_CACHED = 8192  # entries of each, at most
# (key, type, value) -> that attribute's span field 9; a key's distinct values kept
_FLAT: dict[tuple[str, type, object], bytes] = {}
_flat_get = _FLAT.get
_DISTINCT: dict[str, int] = {}
_PER_KEY = 2048
_HEADS: dict[str, tuple[SpanKind, bytes]] = {}  # span name -> kind, name + kind fields
_UNSET_STATUS = b"\x7a\x00"
_NO_STATUS = Status(StatusCode.UNSET)
_TUPLE = tuple(SpanContext(1, 2, True)[:3]) == (1, 2, True)  # the layout indexed here
_LOCAL_FLAGS = b"\x85\x01" + _I(_HAS_IS_REMOTE)
_REMOTE_FLAGS = b"\x85\x01" + _I(_HAS_IS_REMOTE | _IS_REMOTE)
_LOCAL_END, _REMOTE_END = _UNSET_STATUS + _LOCAL_FLAGS, _UNSET_STATUS + _REMOTE_FLAGS


def _varint(n: int) -> bytes:
    if 0 <= n < 128:
        return _SMALL[n]
    if n < 0:
        n += 1 << 64  # int64: ten bytes of two's complement
    out = bytearray()
    while n > 127:
        out.append((n & 127) | 128)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag byte(s), the length, the bytes."""
    n = len(payload)
    return tag + (_SMALL[n] if n < 128 else _varint(n)) + payload


def _value(value: Any) -> bytes:
    """An ``AnyValue`` message's bytes (a oneof: a default value is still written)."""
    kind = type(cast("object", value))
    if kind is str:
        return _field(b"\x0a", value.encode())
    if kind is bool:
        return b"\x10\x01" if value else b"\x10\x00"
    if kind is int:
        return b"\x18" + _varint(value)
    if kind is float:
        return b"\x21" + _D(value)
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, int):
        return b"\x18" + _varint(int(value))
    if isinstance(value, float):
        return b"\x21" + _D(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        items: Sequence[Any] = value  # pyright: ignore[reportUnknownVariableType]
        return _field(b"\x2a", b"".join(_field(b"\x0a", _value(v)) for v in items))
    if isinstance(value, Mapping):
        pairs: Mapping[Any, Any] = value  # pyright: ignore[reportUnknownVariableType]
        return _field(
            b"\x32", _attributes(b"\x0a", {str(k): v for k, v in pairs.items()})
        )
    if value is None:
        return b""
    raise TypeError(f"invalid type {type(value).__name__} of value {value!r}")


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """The repeated ``KeyValue`` field ``tag`` holding ``attributes``."""
    if not attributes:
        return b""
    out: list[bytes] = []
    for item in attributes.items():
        if type(item[1]) is str and (kv := _TEXTS.get(item)) is not None:
            n = len(kv)
            out.append(tag + (_SMALL[n] if n < 128 else _varint(n)) + kv)
            continue
        key, value = item
        prefix = _KEYS.get(key)
        if prefix is None:
            prefix = _field(b"\x0a", key.encode())
            if len(_KEYS) < _CACHED:
                _KEYS[key] = prefix
        try:
            kv = prefix + _field(b"\x12", _value(value))
        except (TypeError, ValueError, OverflowError) as exc:
            log.error("OTLP: attribute %s not encoded: %s", key, exc)
            continue
        if type(value) is str:
            if len(_TEXTS) >= _CACHED:
                _TEXTS.clear()
            _TEXTS[item] = kv
        out.append(_field(tag, kv))
    return b"".join(out)


def _flags(context: Any) -> bytes:
    remote = context is not None and context.is_remote
    return _I(_HAS_IS_REMOTE | _IS_REMOTE if remote else _HAS_IS_REMOTE)


def _trace_state(tag: bytes, state: Any) -> bytes:
    if not state:
        return b""
    return _field(tag, ",".join(f"{k}={v}" for k, v in state.items()).encode())


def _put_attributes(buf: bytearray, attributes: Mapping[str, Any]) -> None:
    """Append a span's attributes (field 9), looked up in one C-level pass by
    (key, type, value): ``True == 1``, but their types differ."""
    values = attributes.values()
    found = list(map(_flat_get, zip(attributes, map(type, values), values)))  # noqa: B905
    if None in found:
        for i, (key, value) in enumerate(attributes.items()):
            if found[i] is None:
                found[i] = _miss(key, value)
    buf += b"".join(cast("list[bytes]", found))


def _miss(key: str, value: Any) -> bytes:
    """``key``'s field 9, kept if its values repeat: a key's first
    ``_PER_KEY`` distinct values are kept, up to ``_CACHED * 2`` in all (so
    a key whose values never repeat, a run's id, stops filling the cache)."""
    kind = type(cast("object", value))
    encoded = _kv(key, value, kind)
    if kind is tuple and not all(type(v) is str for v in value):
        return encoded  # (1,) == (True,): only tuples of strings are kept
    if kind is str or kind is int or kind is bool or kind is tuple:
        seen = _DISTINCT.get(key, 0)
        if seen < _PER_KEY and len(_FLAT) < _CACHED * 2:
            _DISTINCT[key] = seen + 1
            _FLAT[key, kind, value] = encoded
    return encoded


def _kv(key: str, value: Any, kind: type) -> bytes:
    """One attribute as span field 9 (a ``KeyValue``), written short when it is."""
    prefix = _KEYS.get(key)
    if prefix is None:
        prefix = _field(b"\x0a", key.encode())
        if len(_KEYS) < _CACHED:
            _KEYS[key] = prefix
    if kind is str:
        text = value.encode()
        n = len(text)
        size = len(prefix) + n + 4  # the KeyValue's: key, tag, length, AnyValue
        if size < 128:
            return (
                _SHORT_KV(0x4A, size)
                + prefix
                + _SHORT_KV(0x12, n + 2)
                + _SHORT_KV(0x0A, n)
                + text
            )
    return _attributes(b"\x4a", {key: value})


def _put_lean(buf: bytearray, span: Any, fields: tuple[Any, ...]) -> None:
    """Append one lean span (its ``otlp_fields``) as field 2 of a ``ScopeSpans``."""
    ctx, parent, name, kind, start, end, attributes, events, links, status = fields[:10]
    head = _HEADS.get(name)
    if head is None or head[0] is not kind:
        head = (kind, _field(b"\x2a", name.encode()) + _KINDS[kind])
        if len(_HEADS) >= _CACHED:
            _HEADS.clear()
        _HEADS[name] = head
    if not _TUPLE:
        buf += b"\x12" + _varint(len(body := _span(span))) + body  # read by name
        return
    at = len(buf)
    trace_id = ctx[0]
    if ctx[4]:  # a trace state
        buf += b"\x12\x00" + _IDS(
            0x0A, 0x10, trace_id >> 64, trace_id & _M64, 0x12, 0x08, ctx[1]
        )
        buf += _trace_state(b"\x1a", ctx[4])
        if parent is not None:
            buf += _PARENT(0x22, 0x08, parent[1])
    elif parent is not None:
        buf += _IDS_PARENT(
            0x12,
            0,
            0x0A,
            0x10,
            trace_id >> 64,
            trace_id & _M64,
            0x12,
            0x08,
            ctx[1],
            0x22,
            0x08,
            parent[1],
        )
    else:
        buf += _IDS_ONLY(
            0x12, 0, 0x0A, 0x10, trace_id >> 64, trace_id & _M64, 0x12, 0x08, ctx[1]
        )
    buf += head[1]
    buf += _TIMES(0x39, start or 0, 0x41, end or 0)
    if attributes:
        _put_attributes(buf, attributes)
    if events or links or status is not None:
        buf += _tail(events, links, status or _NO_STATUS, None)
        buf += _REMOTE_FLAGS if parent is not None and parent[2] else _LOCAL_FLAGS
    else:
        buf += _REMOTE_END if parent is not None and parent[2] else _LOCAL_END
    n = len(buf) - at - 2
    if n < 128:
        buf[at + 1] = n
    elif n < 16384:
        buf[at + 1 : at + 2] = _SHORT_KV(n & 127 | 128, n >> 7)
    else:
        buf[at + 1 : at + 2] = _varint(n)


def _span(span: Any) -> bytes:
    """One span's ``Span`` message from its public fields, in field-number order."""
    ctx, parent, name, kind = span.context, span.parent, span.name, span.kind
    start, end, attributes = span.start_time, span.end_time, span.attributes
    out = [
        b"\x0a\x10" + ctx.trace_id.to_bytes(16, "big"),
        b"\x12\x08" + ctx.span_id.to_bytes(8, "big"),
        _trace_state(b"\x1a", ctx.trace_state),
        b"\x22\x08" + parent.span_id.to_bytes(8, "big") if parent else b"",
        _field(b"\x2a", name.encode()),
        _KINDS[kind],
        b"\x39" + _Q(start or 0),
        b"\x41" + _Q(end or 0),
        _attributes(b"\x4a", attributes),
        _tail(span.events, span.links, span.status, span),
        b"\x85\x01" + _flags(parent),
    ]
    return b"".join(out)


def _tail(events: Any, links: Any, status: Any, span: Any) -> bytes:
    """Fields 10 to 15: the dropped counts (read from ``span`` unless None),
    the events, the links, the status."""
    out: list[bytes] = []
    if span is not None and (n := span.dropped_attributes):
        out.append(b"\x50" + _varint(n))
    for event in events:
        body = b"\x09" + _Q(event.timestamp) + _field(b"\x12", event.name.encode())
        body += _attributes(b"\x1a", event.attributes)
        if n := event.dropped_attributes:
            body += b"\x20" + _varint(n)
        out.append(_field(b"\x5a", body))
    if span is not None and (n := span.dropped_events):
        out.append(b"\x60" + _varint(n))
    for link in links:
        lc = link.context
        body = b"\x0a\x10" + lc.trace_id.to_bytes(16, "big")
        body += b"\x12\x08" + lc.span_id.to_bytes(8, "big")
        body += _attributes(b"\x22", link.attributes)
        if n := link.dropped_attributes:
            body += b"\x28" + _varint(n)
        out.append(_field(b"\x6a", body + b"\x35" + _flags(lc)))
    if span is not None and (n := span.dropped_links):
        out.append(b"\x70" + _varint(n))
    if status.status_code is StatusCode.UNSET and not status.description:
        out.append(_UNSET_STATUS)
    else:
        description: str | None = status.description
        sb: bytes = _field(b"\x12", description.encode()) if description else b""
        code: int = status.status_code.value
        if code:
            sb += b"\x18" + _SMALL[code]
        out.append(_field(b"\x7a", sb))
    return b"".join(out)


def _scope(scope: Any) -> bytes:
    """An ``InstrumentationScope`` message (empty when the span has none)."""
    if scope is None:
        return b""
    out = _field(b"\x0a", scope.name.encode()) if scope.name else b""
    if scope.version:
        out += _field(b"\x12", scope.version.encode())
    return out + _attributes(b"\x1a", scope.attributes)


def encode_spans(spans: Sequence[Any]) -> bytes:
    """An OTLP ``ExportTraceServiceRequest`` of ``spans`` (finished ``ReadableSpan``s),
    a group's in one ``bytearray``; lean spans (each with the run after it) are
    written by the C module when built. Raises TypeError for a span whose fields
    are not a ReadableSpan's."""
    by_object: dict[int, Any] = {}  # id(resource) -> the equal resource kept first
    groups: dict[int, dict[Any, bytearray]] = {}
    kept: dict[int, Any] = {}
    last: tuple[Any, Any] = (None, None)  # the last span's resource and scope objects
    bucket: bytearray | None = None
    count, i, native = len(spans), 0, _native if _TUPLE else None
    while i < count:
        span, kind = spans[i], cast("type[Any]", type(spans[i]))
        i += 1
        lean = native is not None and getattr(kind, "otlp_in_place", False) is True
        otlp = None if lean else getattr(span, "otlp_fields", None)
        fields = otlp() if otlp is not None else None
        if fields is not None:
            resource, scope = fields[10], fields[11] or None
        else:
            resource, scope = span.resource, span.instrumentation_scope or None
        if resource is not last[0] or scope is not last[1] or bucket is None:
            found = by_object.get(id(resource))
            if found is None:
                found = next((r for r in kept.values() if r == resource), resource)
                by_object[id(resource)] = found
                kept.setdefault(id(found), found)
            bucket = groups.setdefault(id(found), {}).setdefault(scope, bytearray())
            last = (resource, scope)
        if lean and native is not None:
            raw, at = span.instrumentation_scope, i - 1  # raw: maybe falsy
            i = native.put_run(bucket, spans, at, resource, raw, _KIND_ORDER, kind)
            if i == at:  # one C does not write: the Python encoder
                _put_lean(bucket, span, span.otlp_fields())
                i += 1
        elif fields is None:
            body = _span(span)
            bucket += b"\x12" + _varint(len(body)) + body
        elif native is None or not native.put_lean(bucket, fields, _KIND_ORDER):
            _put_lean(bucket, span, fields)
        else:  # and the next spans of this resource and scope, while C writes them
            i = native.put_run(bucket, spans, i, resource, scope, _KIND_ORDER)
    out = bytearray()
    for key, scopes in groups.items():
        resource = kept[key]
        body = bytearray(_field(b"\x0a", _attributes(b"\x0a", resource.attributes)))
        for scope, encoded in scopes.items():
            head = _field(b"\x0a", _scope(scope))
            tail = (
                _field(b"\x1a", scope.schema_url.encode())
                if scope is not None and scope.schema_url
                else b""
            )
            body += b"\x12" + _varint(len(head) + len(encoded) + len(tail)) + head
            body += encoded
            body += tail
        if resource.schema_url:
            body += _field(b"\x1a", resource.schema_url.encode())
        out += b"\x0a" + _varint(len(body))
        out += body
    return bytes(out)
