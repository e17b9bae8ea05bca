"""The walkthrough (examples/cross_thread_memory.py) as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_llm_servers import FakeLLMServer, anthropic_message

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "cross_thread_memory.py"
TRACING = ROOT / "examples" / "tracing_console.py"


def _run(*args: str, env: dict[str, str] | None = None, example: Path = EXAMPLE) -> str:
    base = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    base = {**base, **(env or {}), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(example), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=base,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_tracing_example_prints_the_span_tree_offline() -> None:
    out = _run(example=TRACING)
    lines = [line.split() for line in out.splitlines() if " trace=" in line]
    spans = {
        (w[0] + " " + w[1] if not w[1].startswith("trace=") else w[0]): w for w in lines
    }
    ids = {
        name: next(p[5:] for p in w if p.startswith("span="))
        for name, w in spans.items()
    }

    def parent(name: str) -> str:
        return next(p[7:] for p in spans[name] if p.startswith("parent="))

    assert parent("invoke_workflow workflow") == ids["request thread-2"]
    assert parent("task call_model") == ids["invoke_workflow workflow"]
    assert parent("store search") == ids["task call_model"]
    assert parent("checkpoint commit") == ids["invoke_workflow workflow"]
    assert parent("store batch") == "(root)"
    assert "gen_ai.conversation.id='thread-2'" in out
    assert "assistant: Your name is Bob." in out
    assert "actorgraph.turns {'gen_ai.workflow.name': 'workflow'" in out


def test_offline_walkthrough_in_memory() -> None:
    out = _run("--memory")
    assert "chat model: scripted offline model" in out
    assert (
        "assistant: Your name is Bob." in out
    )  # thread 2 answers from thread 1's memory
    assert "assistant: I don't know your name yet." in out  # user 2 has no memory
    assert "user 1: 'User name is Bob'" in out
    assert "user 2: (none)" in out


@pytest.mark.redis
def test_walkthrough_on_redis_remembers_across_runs(tmp_path: Path) -> None:
    env = {"ACTORGRAPH_REDIS_DATA_DIR": str(tmp_path / "redis")}
    first = _run(env=env)
    assert "storage: Redis at the embedded server" in first
    assert "assistant: Your name is Bob." in first
    second = _run(env=env)
    assert (
        "--- thread-2 (user 1), 2 earlier messages" in second
    )  # the first run's turns survived
    assert second.count("'User name is Bob'") == 1  # the same memory is one item


def test_walkthrough_with_claude_and_openai_embeddings() -> None:
    with FakeLLMServer() as server:
        server.script(
            "/v1/messages",
            anthropic_message("Hello Bob!"),
            anthropic_message("You are Bob."),
            anthropic_message("I do not know."),
        )
        env = {
            "ANTHROPIC_API_KEY": "test-key",
            "ANTHROPIC_BASE_URL": server.url,
            "OPENAI_API_KEY": "test-key",
            "OPENAI_BASE_URL": server.url + "/v1",
        }
        out = _run("--memory", env=env)
        assert "chat model: Claude" in out and "embeddings: OpenAI" in out
        assert "assistant: You are Bob." in out
        calls = [r.json for r in server.requests_to("/v1/messages")]
        assert len(calls) == 3
        # thread 2's system prompt carries the memory thread 1 stored
        assert "User name is Bob" in str(calls[1]["system"])
        assert "User name is Bob" not in str(calls[2]["system"])  # user 2 sees none
