"""A local HTTP server speaking the Anthropic and OpenAI wire protocols, for tests.

It runs ``http.server.ThreadingHTTPServer`` on 127.0.0.1 in a background
thread (so it serves asyncio and trio clients alike), records every request,
and answers from a per-path queue of scripted ``Reply`` objects:

- ``/v1/messages`` (Anthropic) and ``/v1/chat/completions`` (OpenAI): JSON or
  server-sent events, built with the helpers below;
- ``/v1/embeddings`` (OpenAI): with nothing scripted, deterministic vectors
  for each input (honouring ``dimensions`` and ``encoding_format``), returned
  in reverse order so clients must sort by ``index``.

A path with nothing scripted answers 500 with ``x-should-retry: false``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import select
import struct
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

# Tiny retry delays so the SDKs' own retry loops finish fast in tests.
FAST_RETRY = {"retry-after-ms": "1"}


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    """A scripted answer: a JSON body, a raw body, or a server-sent-event stream.

    ``events`` may be a list of encoded events or a function of the request
    (e.g. to add OpenAI's usage chunk only when the client asked for it).
    ``hold_open`` keeps a stream open after its events until the client
    disconnects, which sets ``FakeLLMServer.client_disconnected`` (as does a
    client leaving mid-stream, whether it closed with a FIN or a reset).
    """

    status: int = 200
    json: Any = None
    body: bytes | None = None
    events: list[bytes] | Callable[[Recorded], list[bytes]] | None = None
    headers: dict[str, str] = field(default_factory=dict[str, str])
    hold_open: bool = False


def error(
    status: int, message: str = "boom", *, headers: dict[str, str] | None = None
) -> Reply:
    """An API error reply in the shape both providers use; retried fast unless ``headers`` say otherwise."""
    body = {"type": "error", "error": {"type": "api_error", "message": message}}
    return Reply(
        status=status,
        json=body,
        headers=dict(FAST_RETRY if headers is None else headers),
    )


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event; ``data`` is JSON-encoded unless it is a str."""
    payload = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


class FakeLLMServer:
    """The server; use as a context manager (``with FakeLLMServer() as server``)."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.client_disconnected = threading.Event()
        self._replies: defaultdict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (Anthropic's base_url; add ``/v1`` for OpenAI)."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def script(self, path: str, *replies: Reply) -> None:
        """Queue ``replies`` for requests to ``path``, answered in order."""
        with self._lock:
            self._replies[path].extend(replies)

    def requests_to(self, path: str) -> list[Recorded]:
        """The recorded requests to ``path``, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def take(self, request: Recorded) -> Reply:
        """Record ``request`` and pick its reply (called by the handler threads)."""
        with self._lock:
            self.requests.append(request)
            queue = self._replies[request.path]
            if queue:
                return queue.popleft()
        if request.path.endswith("/embeddings"):
            return embeddings_reply(request)
        reply = error(500, f"no scripted reply for {request.path}")
        reply.headers["x-should-retry"] = "false"
        return reply

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeLLMServer


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = self.path.split("?", 1)[0]
        request = Recorded("POST", path, headers, self.rfile.read(length))
        reply = self.server.fake.take(request)
        if reply.events is not None:
            self._stream(reply, request)
        else:
            self._send_body(reply)

    def _send_body(self, reply: Reply) -> None:
        body = reply.body if reply.body is not None else json.dumps(reply.json).encode()
        self.send_response(reply.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, reply: Reply, request: Recorded) -> None:
        events = reply.events(request) if callable(reply.events) else reply.events
        self.send_response(reply.status)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            for event in events or ():
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            if reply.hold_open:
                self._wait_for_disconnect()
                return
            self.wfile.write(b"0\r\n\r\n")
        except ConnectionError:
            # The client left mid-stream. A client that closes its socket with
            # some of our events still unread in its receive buffer sends a
            # reset, not a FIN, so the disconnect surfaces here (a reset recv,
            # or a broken pipe on the next write) rather than as an empty read.
            self._client_left()

    def _wait_for_disconnect(self) -> None:
        self.close_connection = True
        for _ in range(200):  # at most 20 s
            readable, _, _ = select.select([self.connection], [], [], 0.1)
            if readable and not self.connection.recv(1024):
                self._client_left()
                return

    def _client_left(self) -> None:
        self.close_connection = True
        self.server.fake.client_disconnected.set()


# Anthropic


def anthropic_message(
    text: str = "",
    tool_uses: Sequence[tuple[str, str, dict[str, Any]]] = (),
    *,
    msg_id: str = "msg_1",
    model: str = "claude-test",
    stop_reason: str = "end_turn",
    usage: dict[str, int] | None = None,
    extra_blocks: Sequence[dict[str, Any]] = (),
) -> Reply:
    """A /v1/messages JSON reply with a text block and ``(id, name, input)`` tool uses."""
    content: list[dict[str, Any]] = [*extra_blocks]
    if text:
        content.append({"type": "text", "text": text})
    content += [
        {"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in tool_uses
    ]
    body = {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 10, "output_tokens": 5},
    }
    return Reply(json=body)


def anthropic_stream(
    text_parts: Iterable[str] = (),
    tool_uses: Sequence[tuple[str, str, Sequence[str]]] = (),
    *,
    msg_id: str = "msg_1",
    model: str = "claude-test",
    stop_reason: str = "end_turn",
    input_tokens: int = 10,
    output_tokens: int = 5,
    hold_open: bool = False,
) -> Reply:
    """A /v1/messages event stream: text deltas, then tool uses as ``(id, name, json pieces)``."""
    start = {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1},
    }
    events = [sse({"type": "message_start", "message": start}, "message_start")]
    events.append(sse({"type": "ping"}, "ping"))
    index = 0
    parts = list(text_parts)
    if parts:
        events += _block(
            index,
            {"type": "text", "text": ""},
            [{"type": "text_delta", "text": p} for p in parts],
        )
        index += 1
    for call_id, name, pieces in tool_uses:
        block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
        events += _block(index, block, deltas)
        index += 1
    if not hold_open:
        delta = {"stop_reason": stop_reason, "stop_sequence": None}
        usage = {"output_tokens": output_tokens}
        events.append(
            sse(
                {"type": "message_delta", "delta": delta, "usage": usage},
                "message_delta",
            )
        )
        events.append(sse({"type": "message_stop"}, "message_stop"))
    return Reply(events=events, hold_open=hold_open)


def _block(
    index: int, block: dict[str, Any], deltas: list[dict[str, Any]]
) -> list[bytes]:
    out = [
        sse(
            {"type": "content_block_start", "index": index, "content_block": block},
            "content_block_start",
        )
    ]
    out += [
        sse(
            {"type": "content_block_delta", "index": index, "delta": d},
            "content_block_delta",
        )
        for d in deltas
    ]
    out.append(
        sse({"type": "content_block_stop", "index": index}, "content_block_stop")
    )
    return out


# OpenAI


def openai_completion(
    text: str | None = "",
    tool_calls: Sequence[tuple[str, str, str]] = (),
    *,
    completion_id: str = "chatcmpl-1",
    model: str = "gpt-test",
    finish_reason: str = "stop",
    usage: dict[str, Any] | None = None,
) -> Reply:
    """A /v1/chat/completions JSON reply; tool calls are ``(id, name, arguments JSON)``."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
            for i, n, a in tool_calls
        ]
    body = {
        "id": completion_id,
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": usage
        or {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        "system_fingerprint": "fp_test",
    }
    return Reply(json=body)


def openai_stream(
    text_parts: Iterable[str] = (),
    tool_calls: Sequence[tuple[str, str, Sequence[str]]] = (),
    *,
    completion_id: str = "chatcmpl-1",
    model: str = "gpt-test",
    finish_reason: str = "stop",
    usage: dict[str, int] | None = None,
    hold_open: bool = False,
) -> Reply:
    """A /v1/chat/completions event stream; the usage chunk only if the client asked for it."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return sse(_chunk_body(completion_id, model, [choice]))

    def build(request: Recorded) -> list[bytes]:
        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": p}) for p in text_parts]
        for n, (call_id, name, pieces) in enumerate(tool_calls):
            first = {
                "index": n,
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            events.append(chunk({"tool_calls": [first]}))
            events += [
                chunk({"tool_calls": [{"index": n, "function": {"arguments": p}}]})
                for p in pieces
            ]
        if hold_open:
            return events
        events.append(chunk({}, finish_reason))
        if (request.json.get("stream_options") or {}).get("include_usage"):
            counts = usage or {
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "total_tokens": 15,
            }
            events.append(
                sse({**_chunk_body(completion_id, model, []), "usage": counts})
            )
        events.append(sse("[DONE]"))
        return events

    return Reply(events=build, hold_open=hold_open)


def _chunk_body(completion_id: str, model: str, choices: list[Any]) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": choices,
    }


def fake_vector(text: str, dims: int) -> list[float]:
    """The deterministic vector the server returns for ``text`` (float32-exact)."""
    digest = hashlib.sha256(text.encode()).digest()
    while len(digest) < dims:
        digest += hashlib.sha256(digest).digest()
    return [(b - 128) / 128 for b in digest[:dims]]


def embeddings_reply(request: Recorded) -> Reply:
    """Embeddings for the request's inputs, in reverse order, with their ``index``."""
    body = request.json
    texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
    dims = body.get("dimensions") or 8
    data: list[dict[str, Any]] = []
    for index, text in enumerate(texts):
        vector: Any = fake_vector(text, dims)
        if body.get("encoding_format") == "base64":
            vector = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(len(t.split()) for t in texts)
    return Reply(
        json={
            "object": "list",
            "data": data[::-1],
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
