"""A lean span's OTLP/protobuf bytes, written in C (``_otlp_native.c``)."""

def put_lean(
    buf: bytearray, fields: tuple[object, ...], kinds: tuple[object, ...], /
) -> bool: ...
