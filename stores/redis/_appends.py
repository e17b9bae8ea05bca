"""A ``save`` stored as what a turn appended to the one before it.

A conversation's ``save`` is usually the previous one plus a message or
two (``add_messages(previous, [message, reply])``). Encoded as a msgpack
array, the new bytes then start with the old array's elements, byte for
byte, since msgpack is self-delimiting and the serializer deterministic.
``split_appended`` finds that tail without decoding anything (one header
read and one prefix compare), so a saver can store the tail instead of the
whole history; ``join_appended`` rebuilds the full bytes from a full save
and the tails written after it. Anything else (not an array, an element
changed or removed) is stored whole.
"""

from __future__ import annotations

from collections.abc import Iterable


def _array_header(data: bytes) -> tuple[int, int] | None:
    # (element count, header length) of a msgpack array, None for anything else
    if not data:
        return None
    first = data[0]
    if 0x90 <= first <= 0x9F:
        return first & 0x0F, 1
    if first == 0xDC and len(data) >= 3:
        return int.from_bytes(data[1:3], "big"), 3
    if first == 0xDD and len(data) >= 5:
        return int.from_bytes(data[1:5], "big"), 5
    return None


def array_header(count: int) -> bytes:
    """The shortest msgpack header of an array of ``count`` elements."""
    if count < 16:
        return bytes((0x90 | count,))
    if count < 0x10000:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")


def split_appended(previous: bytes, save: bytes) -> tuple[int, bytes] | None:
    """``(n, tail)`` if ``save`` is the array ``previous`` with n elements appended.

    ``tail`` is the encoding of those n elements. None if either is not a
    msgpack array or ``save`` does not start with ``previous``'s elements.
    """
    old, new = _array_header(previous), _array_header(save)
    if old is None or new is None or new[0] < old[0]:
        return None
    (old_count, old_len), (new_count, new_len) = old, new
    body = memoryview(previous)[old_len:]
    if not save.startswith(body, new_len):
        return None
    return new_count - old_count, save[new_len + len(body) :]


def join_appended(full: bytes, tails: Iterable[tuple[int, bytes]]) -> bytes:
    """The save that ``full`` became after ``tails`` (oldest first) were appended.

    Raises:
        ValueError: if ``full`` is not a msgpack array (the parts do not fit).
    """
    header = _array_header(full)
    if header is None:
        raise ValueError("an appended save must follow a msgpack array")
    count, length = header
    parts = [memoryview(full)[length:]]
    for n, tail in tails:
        count += n
        parts.append(memoryview(tail))
    return array_header(count) + b"".join(parts)
