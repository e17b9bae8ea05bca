"""The only place the runtime turns user values into bytes for checkpoints.

msgpack (msgspec) with extension types so values come back as they went in:
messages and other registered Structs keep their class, tuples stay tuples,
sets stay sets. Anything msgspec encodes natively (dict, list, str, numbers,
bytes, datetime, UUID, dataclasses as dicts) passes through untouched.
"""

from __future__ import annotations

from typing import Any

import msgspec

from stores._shared import set_value_decoder

from ._errors import SerializationError
from ._langchain import dump_langchain, is_langchain_message, load_langchain
from ._messages import MESSAGE_TYPES
from ._types import Interrupt

_EXT_STRUCT = 1
_EXT_TUPLE = 2
_EXT_SET = 3
_EXT_LANGCHAIN = 4  # a langchain_core message, as its message_to_dict form
_SCALARS = frozenset({str, int, float, bool, type(None), bytes})

_STRUCTS: tuple[type[msgspec.Struct], ...] = (*MESSAGE_TYPES, Interrupt)
_STRUCT_TYPES = frozenset(_STRUCTS)
_ENC = msgspec.msgpack.Encoder()


def _struct_union() -> Any:
    union: Any = _STRUCTS[0]
    for cls in _STRUCTS[1:]:
        union = union | cls
    return union


_STRUCT_DEC = msgspec.msgpack.Decoder(_struct_union())


def _wire(obj: Any) -> Any:
    cls = type(obj)
    if cls in _SCALARS:
        return obj
    if cls is list:
        return [_wire(x) for x in obj]
    if cls is dict:
        return {k: _wire(v) for k, v in obj.items()}
    if cls in _STRUCT_TYPES:
        return msgspec.msgpack.Ext(_EXT_STRUCT, _ENC.encode(obj))
    if cls is tuple:
        return msgspec.msgpack.Ext(_EXT_TUPLE, _encode([_wire(x) for x in obj]))
    if cls is set or cls is frozenset:
        return msgspec.msgpack.Ext(_EXT_SET, _encode([_wire(x) for x in obj]))
    return obj


def _enc_hook(obj: Any) -> Any:
    if is_langchain_message(obj):
        # its own encoder: this hook runs inside _ENCODER.encode
        payload = _LC_ENCODER.encode(_wire(dump_langchain(obj)))
        return msgspec.msgpack.Ext(_EXT_LANGCHAIN, payload)
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return dump()  # pydantic models come back as dicts
    raise NotImplementedError(
        f"cannot checkpoint a value of type {type(obj).__qualname__}; return data made of "
        "dict, list, tuple, str, numbers, bytes, datetime, messages or msgspec Structs"
    )


_ENCODER = msgspec.msgpack.Encoder(enc_hook=_enc_hook)
_LC_ENCODER = msgspec.msgpack.Encoder(enc_hook=_enc_hook)


def _encode(obj: Any) -> bytes:
    try:
        return _ENCODER.encode(obj)
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
    raise msgspec.DecodeError(f"unknown msgpack extension type {code}")


_DECODER: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(ext_hook=_ext_hook)


def dumps(value: Any) -> bytes:
    """msgpack bytes of ``value``; raises SerializationError if it cannot be encoded."""
    return _encode(_wire(value))


def loads(data: bytes) -> Any:
    """The value ``dumps`` encoded."""
    return _DECODER.decode(data)


set_value_decoder(loads)  # checkpointers' get_tuple()/list() decode values as we do
