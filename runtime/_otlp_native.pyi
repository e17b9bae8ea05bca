"""A lean span's OTLP/protobuf bytes, written in C (``_otlp_native.c``)."""

def put_lean(
    buf: bytearray, fields: tuple[object, ...], kinds: tuple[object, ...], /
) -> bool: ...
def put_run(
    buf: bytearray,
    spans: object,
    start: int,
    resource: object,
    scope: object,
    kinds: tuple[object, ...],
    lean: type = ...,
    /,
) -> int: ...
