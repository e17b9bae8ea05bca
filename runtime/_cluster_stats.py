"""``ClusterStats``: what ``Runtime.statistics()`` reports of a cluster member.

Apart from ``_cluster`` so that the public type (a field of ``RuntimeStats``)
loads without the cluster's machinery, which loads on ``Runtime(cluster=...)``.
"""

from __future__ import annotations

import msgspec


class ClusterStats(msgspec.Struct, frozen=True, kw_only=True):
    """A member's view: its shards, warm threads and what crossed processes."""

    member: str
    members: int
    owned_shards: int
    owned_threads: int
    forwarded: int
    served_remote: int
    handoffs: int
    takeovers: int
    lost_leases: int
