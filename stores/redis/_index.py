# pyright: reportMissingTypeStubs=false, reportUnknownMemberType=false
"""The RediSearch index of a RedisStore: found with FT.INFO, else made with FT.CREATE.

The schema is the redisvl ``IndexSchema`` of ``_schema.schema_dict``; its
fields give the FT.CREATE arguments (``redis_args``), and the command goes
out through the one send path like every other (no redis-py client).
redisvl is imported only when an index must be made: most starts find the
index an earlier process made, and its import costs a tenth of a second.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from ._pipeline import run, send
from ._schema import schema_dict
from ._wire import ReplyError

if TYPE_CHECKING:
    from ._schema import RedisIndexSettings
    from ._transport import Client


def create_command(
    name: str, prefix: str, settings: RedisIndexSettings
) -> tuple[Any, ...]:
    """The FT.CREATE command of a store's index (what redisvl's ``create`` sends)."""
    from redisvl.schema import IndexSchema

    schema = IndexSchema.from_dict(schema_dict(name, prefix, settings))
    fields = itertools.chain.from_iterable(
        field.redis_args() for field in schema.redis_fields
    )
    return (
        "FT.CREATE", name, "ON", "HASH", "PREFIX", 1, schema.index.prefix,
        "SCHEMA", *fields,
    )  # fmt: skip


async def ensure_index(
    client: Client, name: str, prefix: str, settings: RedisIndexSettings
) -> None:
    """Make the index ``name`` unless it exists: one round trip if it does, two if not.

    Another process creating it at the same time is not an error.

    Raises:
        ReplyError: if Redis refuses FT.INFO or FT.CREATE otherwise (no
            query engine, a bad schema).
        RedisConnectionError: if Redis is unreachable.
    """
    (info,), _ = await send(client, [("FT.INFO", name)])
    if not isinstance(info, ReplyError):
        return
    try:  # no such index (or no query engine: then FT.CREATE says so)
        await run(client, [create_command(name, prefix, settings)])
    except ReplyError as exc:
        if "already exists" not in str(exc).lower():
            raise
        # another process created it between our check and FT.CREATE
