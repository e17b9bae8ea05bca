"""A real 3-master Redis Cluster for tests, from the embedded ``redis-server`` binary.

``RedisCluster3(dir).start()`` starts three ``cluster-enabled`` servers on
free ports, assigns the slots (CLUSTER ADDSLOTSRANGE), joins them (CLUSTER
MEET) and waits for ``cluster_state:ok``; ``stop()`` ends them.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import redis

from stores.redis._embedded import find_binaries, free_port

RANGES = ((0, 5460), (5461, 10922), (10923, 16383))


def _cluster_port() -> int:
    # A node also listens on port + 10000 (the cluster bus): both must be free.
    while True:
        port = free_port()
        if port + 10000 <= 65535 and _free(port + 10000):
            return port


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class RedisCluster3:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ports: list[int] = []
        self._procs: list[subprocess.Popen[bytes]] = []
        self._moved: dict[int, int] = {}  # slot -> the master it was moved to

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> RedisCluster3:
        server = find_binaries().server
        for i in range(3):
            port = _cluster_port()
            node_dir = self.directory / f"node{i}"
            node_dir.mkdir(parents=True)
            self._procs.append(
                subprocess.Popen(
                    [
                        str(server),
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "5000",
                        "--dir",
                        str(node_dir),
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--logfile",
                        "redis.log",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            self.ports.append(port)
        try:
            self._form()
        except BaseException:
            self.stop()  # no node left running behind a failed start
            raise
        return self

    def _form(self) -> None:
        # Generous deadlines: on a loaded 2-core machine gossip can take long.
        clients = [redis.Redis(host="127.0.0.1", port=p) for p in self.ports]
        try:
            deadline = time.monotonic() + 30
            for client in clients:
                while True:
                    try:
                        client.ping()
                        break
                    except redis.ConnectionError:
                        assert time.monotonic() < deadline, (
                            "a cluster node did not start"
                        )
                        time.sleep(0.05)
            for client, (lo, hi) in zip(clients, RANGES, strict=True):
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", lo, hi)
            for port in self.ports[1:]:
                clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port)
            deadline = time.monotonic() + 60
            while not all(
                "cluster_state:ok" in c.execute_command("CLUSTER", "INFO").decode()
                and len(c.execute_command("CLUSTER", "SLOTS")) == 3
                for c in clients
            ):
                assert time.monotonic() < deadline, (
                    f"the cluster on ports {self.ports} did not form in 60 s"
                )
                time.sleep(0.05)
        finally:
            for client in clients:
                client.close()

    def keys_per_node(self, pattern: str) -> list[int]:
        counts = []
        for port in self.ports:
            with redis.Redis(host="127.0.0.1", port=port) as client:
                counts.append(len(list(client.scan_iter(match=pattern, count=1000))))
        return counts

    def move_slot(self, slot: int) -> None:
        """Reassign an empty ``slot`` to the next master (a resharding, without keys).

        The documented order: the target imports, the owner migrates, then
        every node learns the new owner, the target first. A target that was
        importing bumps its config epoch, so no gossip from the old owner can
        win the slot back while the others learn.
        """
        clients = [redis.Redis(host="127.0.0.1", port=p) for p in self.ports]
        try:
            ids = [c.execute_command("CLUSTER", "MYID").decode() for c in clients]
            owner = self._moved.get(slot)
            if owner is None:
                owner = next(i for i, (lo, hi) in enumerate(RANGES) if lo <= slot <= hi)
            target = (owner + 1) % len(clients)
            clients[target].execute_command(
                "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[owner]
            )
            clients[owner].execute_command(
                "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target]
            )
            for i in (
                target,
                owner,
                *(i for i in range(3) if i not in (owner, target)),
            ):
                clients[i].execute_command(
                    "CLUSTER", "SETSLOT", slot, "NODE", ids[target]
                )
            self._moved[slot] = target
        finally:
            for client in clients:
                client.close()

    def stop(self) -> None:
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
