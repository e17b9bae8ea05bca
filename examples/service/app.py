"""A FastAPI service running conversations on one Runtime, with Redis persistence.

    uvicorn examples.service.app:app            # or: python -m examples.service
    uvicorn examples.service.app:app --loop uvloop

The lifespan opens a RedisSaver (checkpoints), a RedisStore with a vector
index (cross-thread memories), the chat model and one Runtime, and closes
them on shutdown. REDIS_URL names the Redis; without it the library starts
its embedded one. SERVICE_KEY_PREFIX (default "service") starts every key,
so several services (or test runs) can share one Redis.

Endpoints (see README.md in this folder):
    GET  /health                       readiness, the chat model, Runtime counters
    POST /threads/{thread_id}/messages {"user_id", "content"} -> the reply as JSON
    POST /threads/{thread_id}/stream   the same, as server-sent events: "token"
                                       events, then one "reply" event
    GET  /threads/{thread_id}          how many turns the thread has had, its last reply
    GET  /users/{user_id}/memories     what the service remembers about a user
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import anyio.lowlevel
import msgspec
from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from runtime import Runtime
from runtime.models import ChatModelError
from stores import HashingEmbeddings, RedisSaver, RedisStore, StoreError

from .workflow import build, chat_model, memory_namespace

EMBED_DIMS = 256
NAME = r"^[A-Za-z0-9_-]{1,64}$"  # ids become Redis key and namespace parts


@dataclass(frozen=True)
class Service:
    """What the lifespan opened, handed to each request through the lifespan state."""

    workflow: Any
    store: RedisStore
    runtime: Runtime
    model_name: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Service]]:
    """Open the stores, the chat model and the Runtime; close them in reverse on shutdown."""
    prefix = os.environ.get("SERVICE_KEY_PREFIX", "service")
    index = {
        "dims": EMBED_DIMS,
        "embed": HashingEmbeddings(dims=EMBED_DIMS),
        "fields": ["data"],
    }
    async with AsyncExitStack() as stack:
        checkpointer = await stack.enter_async_context(
            RedisSaver(prefix=f"{prefix}-ckpt")
        )
        store = await stack.enter_async_context(
            RedisStore(index=index, prefix=f"{prefix}-store")
        )
        model, model_name = await stack.enter_async_context(chat_model())
        # Request handlers run in tasks of their own, outside this block: the
        # Runtime serves them too, as it serves every call on its event loop.
        runtime = await stack.enter_async_context(_runtime(prefix))
        service = Service(
            workflow=build(checkpointer, store, model),
            store=store,
            runtime=runtime,
            model_name=model_name,
        )
        yield {"service": service}


def _runtime(prefix: str) -> Runtime:
    """``Runtime()``, or with SERVICE_CLUSTER=1 a replica: ``Runtime(cluster=REDIS_URL)``.

    Replicas on one Redis serve one thread space: a request for a thread
    another replica owns is forwarded to it. Raises RuntimeError when
    SERVICE_CLUSTER is set without REDIS_URL (each replica would start
    its own embedded Redis and share nothing).
    """
    if os.environ.get("SERVICE_CLUSTER", "") in ("", "0"):
        return Runtime()
    url = os.environ.get("REDIS_URL")
    if not url:
        raise RuntimeError(
            "SERVICE_CLUSTER needs REDIS_URL: the replicas must share one Redis"
        )
    return Runtime(cluster=url, cluster_prefix=f"{prefix}-cluster")


class UserMessage(BaseModel):
    user_id: str = Field(
        pattern=NAME, description="whose memories the turn reads and writes"
    )
    content: str = Field(min_length=1, max_length=8000)


class Reply(BaseModel):
    thread_id: str
    user_id: str
    reply: str


class ThreadInfo(BaseModel):
    thread_id: str
    turns: int
    last_reply: str | None


class Memory(BaseModel):
    key: str
    data: str
    score: float | None


class Memories(BaseModel):
    user_id: str
    memories: list[Memory]


ThreadId = Annotated[str, Path(pattern=NAME)]
UserId = Annotated[str, Path(pattern=NAME)]


def create_app() -> FastAPI:
    """The FastAPI app; settings are read from the environment when its lifespan starts."""
    app = FastAPI(title="actorgraph conversation service", lifespan=lifespan)

    @app.exception_handler(ChatModelError)
    async def model_failed(request: Request, exc: ChatModelError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=502)

    @app.exception_handler(StoreError)
    async def store_failed(request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.get("/health")
    async def health(request: Request) -> dict[str, Any]:
        service: Service = request.state.service
        stats = service.runtime.statistics()
        loop = type(anyio.lowlevel.current_token().native_token).__module__
        return {
            "status": "ok",
            "chat_model": service.model_name,
            "event_loop": loop.split(".")[0],  # "asyncio" or "uvloop"
            "active_threads": sum(r.active for r in stats.threads),
            "activations": sum(r.activations for r in stats.threads),
            "store_requests": stats.store_requests,
            "store_batches": stats.store_batches,
            "cluster": msgspec.to_builtins(stats.cluster) if stats.cluster else None,
        }

    @app.post("/threads/{thread_id}/messages")
    async def send_message(
        request: Request, thread_id: ThreadId, body: UserMessage
    ) -> Reply:
        service: Service = request.state.service
        reply = await service.workflow.ainvoke(
            _turn(body), _config(thread_id, body.user_id)
        )
        return Reply(thread_id=thread_id, user_id=body.user_id, reply=reply.text)

    @app.post("/threads/{thread_id}/stream")
    async def stream_message(
        request: Request, thread_id: ThreadId, body: UserMessage
    ) -> StreamingResponse:
        service: Service = request.state.service
        return StreamingResponse(
            _reply_events(service, thread_id, body),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/threads/{thread_id}")
    async def thread_info(request: Request, thread_id: ThreadId) -> ThreadInfo:
        service: Service = request.state.service
        state = await service.workflow.aget_state(
            {"configurable": {"thread_id": thread_id}}
        )
        turns = state.metadata.get("version", 0)
        if not turns:
            raise HTTPException(404, f"thread {thread_id!r} has had no turns")
        return ThreadInfo(
            thread_id=thread_id, turns=turns, last_reply=_text(state.values)
        )

    @app.get("/users/{user_id}/memories")
    async def memories(
        request: Request,
        user_id: UserId,
        query: Annotated[str | None, Query(max_length=8000)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> Memories:
        service: Service = request.state.service
        found = await service.store.asearch(
            memory_namespace(user_id), query=query, limit=limit
        )
        items = [Memory(key=m.key, data=m.value["data"], score=m.score) for m in found]
        return Memories(user_id=user_id, memories=items)

    return app


async def _reply_events(
    service: Service, thread_id: str, body: UserMessage
) -> AsyncIterator[bytes]:
    """The turn as server-sent events: a "token" per chunk from the model, then the "reply".

    A failure once the response has started is an "error" event. A client
    that hangs up closes this generator; the run goes on and is saved.
    """
    config = _config(thread_id, body.user_id)
    reply: Any = None
    try:
        async with aclosing(
            service.workflow.astream(
                _turn(body), config, stream_mode=["messages", "values"]
            )
        ) as events:
            async for mode, chunk in events:
                if mode == "messages" and chunk[0].text:
                    yield _event("token", {"content": chunk[0].text})
                elif mode == "values":
                    reply = chunk
    except (ChatModelError, StoreError) as exc:
        yield _event("error", {"detail": str(exc)})
        return
    full = Reply(thread_id=thread_id, user_id=body.user_id, reply=reply.text)
    yield _event("reply", full.model_dump())


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def _turn(body: UserMessage) -> list[dict[str, str]]:
    return [{"role": "user", "content": body.content}]


def _config(thread_id: str, user_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, "user_id": user_id}}


def _text(value: Any) -> str | None:
    return getattr(value, "text", None)


app = create_app()
