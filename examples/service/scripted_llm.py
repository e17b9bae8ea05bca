"""An offline chat model behind OpenAI's chat-completions wire protocol.

The service talks to its chat model through ``runtime.models.ChatOpenAI``,
the library's public path for token streaming: in a run streaming
"messages", the adapter streams the completion and every token reaches the
caller. Without an API key the service points that adapter at this server,
started on 127.0.0.1 (a free port) on the service's own event loop for the
app's lifespan (anyio and h11: no threads, so it does not fight the service
for the GIL). It answers like the walkthrough's scripted model (from the
memories in the system prompt), as one JSON completion or as server-sent
events, one event per word.

    python -m examples.service.scripted_llm [--port 8001]   # on its own
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import h11
from anyio.abc import SocketAttribute, SocketStream

PATH = "/v1/chat/completions"
MODEL = "scripted-offline"


def answer(messages: list[dict[str, Any]]) -> str:
    """The scripted reply to an OpenAI ``messages`` list.

    "my name is X" is acknowledged; a question about the name is answered
    from "User name is X" in the system prompt (the memories the workflow
    found); "how many" counts the user's messages, which shows the thread's
    history reached the model.
    """
    system = next((_text(m) for m in messages if m.get("role") == "system"), "")
    users = [_text(m) for m in messages if m.get("role") == "user"]
    question = users[-1] if users else ""
    known = re.search(r"User name is (\w+)", system)
    told = re.search(r"my name is (\w+)", question, re.IGNORECASE)
    if told:
        return f"Nice to meet you, {told.group(1)}! I'll remember that."
    if "how many" in question.lower():
        count = f"{len(users)} message{'s' if len(users) != 1 else ''}"
        return f"You have sent me {count} in this conversation."
    if "name" in question.lower():
        return (
            f"Your name is {known.group(1)}."
            if known
            else "I don't know your name yet."
        )
    return "Tell me something about yourself."


def tokens(reply: str) -> list[str]:
    """``reply`` cut into words with their trailing spaces (they join back to it)."""
    return re.findall(r"\s*\S+\s*", reply) or [reply]


def _text(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def _completion(cid: str, reply: str, prompt: int) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(prompt, reply),
    }


def _usage(prompt: int, reply: str) -> dict[str, int]:
    completion = len(tokens(reply))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _events(cid: str, reply: str, prompt: int, usage: bool) -> Iterator[bytes]:
    def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        body = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": MODEL,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(body)}\n\n".encode()

    def delta(fields: dict[str, Any], finish: str | None = None) -> bytes:
        return chunk([{"index": 0, "delta": fields, "finish_reason": finish}])

    yield delta({"role": "assistant", "content": ""})
    for token in tokens(reply):
        yield delta({"content": token})
    yield delta({}, "stop")
    if usage:
        yield chunk([], usage=_usage(prompt, reply))
    yield b"data: [DONE]\n\n"


def _respond(request: dict[str, Any]) -> tuple[str, list[bytes]]:
    """The content type and body parts answering a chat-completions request."""
    messages = list(request["messages"])
    cid, reply = f"chatcmpl-{uuid.uuid4().hex}", answer(messages)
    prompt = sum(len(tokens(_text(m))) for m in messages)
    if not request.get("stream"):
        return "application/json", [
            json.dumps(_completion(cid, reply, prompt)).encode()
        ]
    usage = bool((request.get("stream_options") or {}).get("include_usage"))
    return "text/event-stream", list(_events(cid, reply, prompt, usage))


async def _next(conn: h11.Connection, stream: SocketStream) -> Any:
    """The next h11 event, reading from ``stream`` as needed (a closed stream ends the connection)."""
    while (event := conn.next_event()) is h11.NEED_DATA:
        try:
            conn.receive_data(await stream.receive())
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            conn.receive_data(b"")
    return event


async def _serve_connection(stream: SocketStream) -> None:
    """Answer one keep-alive connection's requests in turn until the client closes it."""
    conn = h11.Connection(h11.SERVER)
    async with stream:
        try:
            while isinstance(request := await _next(conn, stream), h11.Request):
                body = b""
                while isinstance(part := await _next(conn, stream), h11.Data):
                    body += part.data
                status, kind, parts = _route(request, body)
                length = str(sum(map(len, parts))).encode()
                headers = [
                    (b"content-type", kind.encode()),
                    (b"content-length", length),
                ]
                await stream.send(
                    conn.send(h11.Response(status_code=status, headers=headers))
                )
                for part in parts:  # one write per event, as a real model streams
                    await stream.send(conn.send(h11.Data(data=part)))
                await stream.send(conn.send(h11.EndOfMessage()))
                if conn.our_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (
            h11.ProtocolError,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
        ):
            return  # a client that broke the protocol or hung up: drop the connection


def _route(request: h11.Request, body: bytes) -> tuple[int, str, list[bytes]]:
    if request.method != b"POST" or request.target.rstrip(b"/") != PATH.encode():
        return 404, "application/json", [b'{"error": {"message": "unknown path"}}']
    try:
        return 200, *_respond(json.loads(body))
    except (ValueError, KeyError, TypeError):
        return 400, "application/json", [b'{"error": {"message": "malformed request"}}']


@asynccontextmanager
async def serving(port: int = 0) -> AsyncIterator[str]:
    """Serve on 127.0.0.1:``port`` (0: a free one) on this event loop; yields the OpenAI base_url.

    The connections are tasks of the block; leaving it closes them.
    """
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=port)
    bound = listener.extra(SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, _serve_connection)
        try:
            yield f"http://127.0.0.1:{bound}/v1"
        finally:
            tg.cancel_scope.cancel()


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="the offline OpenAI-compatible model")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    async with serving(args.port) as url:
        print(f"scripted chat model at {url} (OPENAI_BASE_URL); Ctrl-C stops it")
        await anyio.sleep_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(main)
