"""``pack_commands``: our RESP packer sends what redis-py's would; ReplyError codes."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import Connection

from stores.redis._query import knn_args, knn_command
from stores.redis._wire import DataError, ReplyError, is_noscript, pack_commands

COMMANDS: list[tuple[Any, ...]] = [
    ("PING",),
    ("EVALSHA", "a" * 40, 2, "k:{t}", b"k:{t}:rec", 0, -7, 1.5, 1e-9, "héllo €"),
    ("FT.SEARCH", "idx", "*=>[KNN 10 @vec $v]", "PARAMS", 2, "v", bytes(range(256))),
    (
        "HSET",
        "k",
        "f",
        memoryview(b"view"),
        "g",
        bytearray(b"array"),
        "e",
        b"",
        "s",
        "",
    ),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_packs_like_redis_py(command: tuple[Any, ...]) -> None:
    assert pack_commands([command]) == b"".join(Connection().pack_commands([command]))


def test_a_pipeline_is_the_commands_back_to_back() -> None:
    assert pack_commands(COMMANDS) == b"".join(pack_commands([c]) for c in COMMANDS)


@pytest.mark.parametrize("bad", [True, None, ["list"], {"a": 1}])
def test_an_argument_redis_cannot_take_is_a_clear_error(bad: Any) -> None:
    with pytest.raises(DataError, match="cannot send a"):
        pack_commands([("SET", "k", bad)])


@pytest.mark.parametrize("conds", [[], ["@p:{memories\\.u1}"], ["@p:{a}", "@n:[1 2]"]])
def test_a_packed_knn_search_is_the_command_redis_py_would_send(
    conds: list[str],
) -> None:
    vector = bytes(range(256)) * 4
    args = knn_args("idx:1", conds, vector, 10)
    expected = b"".join(Connection().pack_commands([args]))
    assert knn_command("idx:1", conds, vector, 10) == expected
    assert pack_commands([("PING",), knn_command("idx:1", conds, vector, 10)]) == (
        b"*1\r\n$4\r\nPING\r\n" + expected
    )


def test_an_error_reply_names_its_code() -> None:
    error = ReplyError("NOSCRIPT No matching script. Please use EVAL.")
    assert error.code == "NOSCRIPT" and is_noscript(error)
    assert not is_noscript(ReplyError("ERR unknown command")) and not is_noscript(b"x")
