"""The only place the runtime turns user values into bytes for checkpoints.

msgpack (msgspec) with extension types so values come back as they went in:
messages and other registered Structs keep their class, tuples stay tuples,
sets and frozensets stay what they were, and ``datetime`` (naive or aware,
its ``ZoneInfo`` or fixed offset kept), ``date``, ``time``, ``timedelta``,
``UUID`` and ``Decimal`` keep their type. Dicts, lists, str, numbers (NaN
included), bool, None and bytes pass through. Dataclasses, pydantic models
and unregistered Structs come back as dicts (documented).

Refused with SerializationError, never converted silently: Enum members
(restoring one would mean importing a class named by stored data; store
``.value``), str with a lone surrogate (not valid Unicode), ints past 64
bits, data nested more than ``MAX_DEPTH`` levels, and other objects.
"""

from __future__ import annotations

import enum
import gc
import sys
import uuid
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from itertools import repeat
from operator import attrgetter
from typing import Any, Final, cast

import msgspec

from stores._shared import set_value_decoder

from ._errors import SerializationError
from ._langchain import dump_langchain, is_langchain_message, load_langchain
from ._messages import MESSAGE_TYPES
from ._types import Interrupt

MAX_DEPTH: Final = 100
"""How deeply a checkpointed value may nest containers; deeper is refused
(decoding it later, from a deep stack, could fail with RecursionError)."""

_EXT_STRUCT = 1
_EXT_TUPLE = 2
_EXT_SET = 3
_EXT_FROZENSET = 4
_EXT_DATETIME = 5
_EXT_DATE = 6
_EXT_TIME = 7
_EXT_TIMEDELTA = 8
_EXT_UUID = 9
_EXT_DECIMAL = 10
_EXT_LANGCHAIN = 11  # a langchain_core message, as its message_to_dict form
_SCALARS = frozenset({str, int, float, bool, type(None), bytes})
_KEYS = _SCALARS | {tuple}

_STRUCTS: tuple[type[msgspec.Struct], ...] = (*MESSAGE_TYPES, Interrupt)
_STRUCT_TYPES = frozenset(_STRUCTS)
_ENC = msgspec.msgpack.Encoder()
_Ext = msgspec.msgpack.Ext


def _struct_union() -> Any:
    union: Any = _STRUCTS[0]
    for cls in _STRUCTS[1:]:
        union = union | cls
    return union


_STRUCT_DEC = msgspec.msgpack.Decoder(_struct_union())
_PLAIN_DEC: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder()


def _zone(tz: tzinfo | None, at: datetime | None) -> Any:
    """A tzinfo as data: None, a ZoneInfo key, or a fixed offset in microseconds."""
    if tz is None:
        return None
    if "zoneinfo" in sys.modules:  # (else ``tz`` cannot be a ZoneInfo)
        from zoneinfo import ZoneInfo

        if isinstance(tz, ZoneInfo) and tz.key:
            return tz.key
    offset = tz.utcoffset(at)
    if offset is None:
        return None
    return offset // timedelta(microseconds=1)


def _unzone(data: Any) -> tzinfo | None:
    if data is None:
        return None
    if isinstance(data, str):
        from zoneinfo import ZoneInfo  # (here: it loads the tz path at import)

        return ZoneInfo(data)
    return timezone(timedelta(microseconds=data))


def _ext(code: int, obj: Any) -> msgspec.msgpack.Ext:
    return msgspec.msgpack.Ext(code, _ENC.encode(obj))


def _datetime(obj: datetime) -> msgspec.msgpack.Ext:
    naive = obj.replace(tzinfo=None)
    return _ext(_EXT_DATETIME, (naive.isoformat(), obj.fold, _zone(obj.tzinfo, obj)))


def _time(obj: time) -> msgspec.msgpack.Ext:
    naive = obj.replace(tzinfo=None)
    return _ext(_EXT_TIME, (naive.isoformat(), obj.fold, _zone(obj.tzinfo, None)))


def _value_type(obj: Any) -> msgspec.msgpack.Ext | None:
    # datetime before date: a datetime is a date
    if isinstance(obj, datetime):
        return _datetime(obj)
    if isinstance(obj, date):
        return _ext(_EXT_DATE, obj.isoformat())
    if isinstance(obj, time):
        return _time(obj)
    if isinstance(obj, timedelta):
        return _ext(_EXT_TIMEDELTA, (obj.days, obj.seconds, obj.microseconds))
    if isinstance(obj, uuid.UUID):
        return msgspec.msgpack.Ext(_EXT_UUID, obj.bytes)
    if isinstance(obj, Decimal):
        return _ext(_EXT_DECIMAL, str(obj))
    return None


def _wire(obj: Any, depth: int) -> Any:
    cls: type[object] = type(cast("object", obj))
    if cls in _SCALARS:
        return obj
    if depth >= MAX_DEPTH:
        raise SerializationError(
            f"cannot checkpoint data nested more than {MAX_DEPTH} levels deep; flatten it"
        )
    if cls is list:
        # The common shapes (all scalars, all messages: a conversation) are
        # seen with one C-level pass over the element types, not one call each.
        kinds = set(map(type, obj))
        if kinds <= _SCALARS:
            return obj
        if kinds <= _STRUCT_TYPES:
            return list(map(_Ext, repeat(_EXT_STRUCT), map(_ENC.encode, obj)))
        return [_wire(x, depth + 1) for x in obj]
    if cls is dict:
        if not set(map(type, obj)) <= _KEYS:
            _refuse_keys(obj)
        if set(map(type, obj.values())) <= _SCALARS:
            return obj
        return {k: _wire(v, depth + 1) for k, v in obj.items()}
    if cls in _STRUCT_TYPES:
        return _Ext(_EXT_STRUCT, _ENC.encode(obj))
    if cls is tuple:
        return _ext_of(_EXT_TUPLE, obj, depth)
    if cls is set:
        return _ext_of(_EXT_SET, obj, depth)
    if cls is frozenset:
        return _ext_of(_EXT_FROZENSET, obj, depth)
    if isinstance(obj, enum.Enum):
        raise SerializationError(
            f"cannot checkpoint the Enum member {obj!r}: restoring it would import a "
            f"class named by stored data; store {obj!s}.value ({obj.value!r}) instead"
        )
    typed = _value_type(obj)
    return obj if typed is None else typed


def _refuse_keys(obj: dict[Any, Any]) -> None:
    for k in obj:
        if type(k) not in _KEYS:
            raise SerializationError(
                f"cannot checkpoint a dict with the key {k!r:.60} ({type(k).__qualname__}): "
                "keys come back as they went in only for str, int, float, bool, None, "
                "bytes and tuples of those"
            )


def _ext_of(code: int, items: Any, depth: int) -> msgspec.msgpack.Ext:
    return msgspec.msgpack.Ext(code, _encode([_wire(x, depth + 1) for x in items]))


def _enc_hook(obj: Any) -> Any:
    if is_langchain_message(obj):
        # its own encoder: this hook runs inside _ENCODER.encode
        payload = _LC_ENCODER.encode(_wire(dump_langchain(obj), 0))
        return msgspec.msgpack.Ext(_EXT_LANGCHAIN, payload)
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return dump()  # pydantic models come back as dicts
    raise NotImplementedError(
        f"cannot checkpoint a value of type {type(obj).__qualname__}; return data made of "
        "dict, list, tuple, set, str, numbers, bytes, datetime, date, UUID, Decimal, "
        "messages or msgspec Structs"
    )


_ENCODER = msgspec.msgpack.Encoder(enc_hook=_enc_hook)
_LC_ENCODER = msgspec.msgpack.Encoder(enc_hook=_enc_hook)


def _encode(obj: Any) -> bytes:
    try:
        return _ENCODER.encode(obj)
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start]
        raise SerializationError(
            f"cannot checkpoint a str holding the lone surrogate {bad!r}: it is not "
            "valid Unicode text (json.loads makes these from '\\ud800' escapes)"
        ) from exc
    except RecursionError as exc:
        raise SerializationError(
            f"cannot checkpoint data nested more than {MAX_DEPTH} levels deep; flatten it"
        ) from exc
    except (NotImplementedError, TypeError, OverflowError) as exc:
        raise SerializationError(str(exc)) from exc


def _ext_hook(code: int, data: memoryview) -> Any:
    if code == _EXT_STRUCT:
        return _STRUCT_DEC.decode(data)
    if code == _EXT_TUPLE:
        return tuple(_DECODER.decode(data))
    if code == _EXT_SET:
        return set(_DECODER.decode(data))
    if code == _EXT_LANGCHAIN:
        return load_langchain(_DECODER.decode(data))
    if code == _EXT_FROZENSET:
        return frozenset(_DECODER.decode(data))
    if code == _EXT_DATETIME:
        text, fold, zone = _PLAIN_DEC.decode(data)
        return datetime.fromisoformat(text).replace(tzinfo=_unzone(zone), fold=fold)
    if code == _EXT_DATE:
        return date.fromisoformat(_PLAIN_DEC.decode(data))
    if code == _EXT_TIME:
        text, fold, zone = _PLAIN_DEC.decode(data)
        return time.fromisoformat(text).replace(tzinfo=_unzone(zone), fold=fold)
    if code == _EXT_TIMEDELTA:
        days, seconds, micros = _PLAIN_DEC.decode(data)
        return timedelta(days=days, seconds=seconds, microseconds=micros)
    if code == _EXT_UUID:
        return uuid.UUID(bytes=bytes(data))
    if code == _EXT_DECIMAL:
        return Decimal(_PLAIN_DEC.decode(data))
    raise msgspec.DecodeError(f"unknown msgpack extension type {code}")


_DECODER: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(ext_hook=_ext_hook)


def dumps(value: Any) -> bytes:
    """msgpack bytes of ``value``; raises SerializationError if it cannot be kept as it is."""
    return _encode(_wire(value, 0))


_EXT_LIST: msgspec.msgpack.Decoder[list[msgspec.msgpack.Ext]] = msgspec.msgpack.Decoder(
    list[msgspec.msgpack.Ext]
)
_STRUCT_LIST: Any = list[_struct_union()]  # pyright: ignore[reportInvalidTypeForm]
_STRUCT_LIST_DEC: msgspec.msgpack.Decoder[list[Any]] = msgspec.msgpack.Decoder(
    _STRUCT_LIST
)
_PAUSE_GC_BYTES: Final = 64 * 1024  # (about 700 messages)
_ARRAY_16: Final = 0xDC
_ARRAY_32: Final = 0xDD


def _is_array(data: bytes) -> bool:
    first = data[0] if data else 0
    return 0x90 <= first <= 0x9F or first in (_ARRAY_16, _ARRAY_32)


def _array_header(count: int) -> bytes:
    if count < 16:
        return bytes((0x90 | count,))
    if count < 0x10000:
        return bytes((_ARRAY_16,)) + count.to_bytes(2, "big")
    return bytes((_ARRAY_32,)) + count.to_bytes(4, "big")


def _struct_list(data: bytes) -> list[Any] | None:
    """A list of messages/registered Structs (a conversation) decoded in two
    C-level passes, no ext_hook call per element; None for any other value.

    A long history is decoded with the cyclic collector paused: the decode
    allocates a few objects per message, and the collections they trigger
    (full ones, over a young generation growing to the whole list) cost
    more than the decode itself. No Python code runs inside these decodes
    (so no other thread takes the GIL meanwhile) and the setting is put
    back before returning: the pause is not seen outside this function.
    """
    pause = len(data) >= _PAUSE_GC_BYTES and gc.isenabled()
    if pause:
        gc.disable()
    try:
        try:
            exts = _EXT_LIST.decode(data)
        except msgspec.DecodeError:  # not a list of extensions, or corrupt
            return None  # (the general path decodes it, or raises)
        if not exts or set(map(_ext_code, exts)) != {_EXT_STRUCT}:
            return None
        # Each payload is a Struct's msgpack: as elements of one array they
        # decode with one typed decoder call.
        return _STRUCT_LIST_DEC.decode(
            _array_header(len(exts)) + b"".join(map(_ext_data, exts))
        )
    finally:
        if pause:
            gc.enable()


_ext_code = attrgetter("code")
_ext_data = attrgetter("data")


def loads(data: bytes) -> Any:
    """The value ``dumps`` encoded; raises msgspec.DecodeError for bytes it did not make."""
    if _is_array(data):
        found = _struct_list(data)
        if found is not None:
            return found
    return _DECODER.decode(data)


set_value_decoder(loads)  # checkpointers' get_tuple()/list() decode values as we do
