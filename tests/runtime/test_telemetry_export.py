"""The span tree of a seed turn as it is exported: OTLP/protobuf bytes, decoded.

``OtlpSpanExporter`` (our encoding) behind the SDK's ``BatchSpanProcessor``
posts to a local OTLP/HTTP collector; the bytes it receives are decoded
with ``opentelemetry-proto``'s classes and drawn as a tree (bench/NOTES.md,
"Tracing, stop 21", shows the same tree).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from runtime import OtlpSpanExporter, Runtime, Tracing
from runtime.models import ChatAnthropic
from stores import InMemoryStore, MemorySaver
from tests.fake_llm_servers import FakeLLMServer, anthropic_message
from tests.otel_support import Otel, OtlpReceiver, exported_tree

from .test_telemetry import bob, seed_workflow

SEED_TURN = """\
request (internal)
  checkpoint load (client) gen_ai.conversation.id=thread-1 actorgraph.checkpoint.version=0 actorgraph.checkpoint.records=0
  invoke_workflow workflow (internal) gen_ai.operation.name=invoke_workflow gen_ai.workflow.name=workflow gen_ai.conversation.id=thread-1 actorgraph.run.multitask_strategy=enqueue actorgraph.run.outcome=completed actorgraph.checkpoint.version=1 actorgraph.run.id=…
    task call_model (internal) actorgraph.task.name=call_model actorgraph.task.id=0 actorgraph.task.attempt=1 actorgraph.task.replayed=False
      store search (client) db.operation.name=search actorgraph.store.namespace=memories.1 actorgraph.store.results=0
      store put (client) db.operation.name=put actorgraph.store.namespace=memories.1 actorgraph.store.key=name
      chat claude-test (client) gen_ai.operation.name=chat gen_ai.provider.name=anthropic gen_ai.request.model=claude-test gen_ai.request.max_tokens=1024 gen_ai.conversation.id=thread-1 gen_ai.response.model=claude-test-1 gen_ai.response.id=msg_1 gen_ai.response.finish_reasons=[end_turn] gen_ai.usage.input_tokens=10 gen_ai.usage.output_tokens=5
    checkpoint commit (client) actorgraph.checkpoint.version=1
store batch (client) db.operation.batch.size=1 actorgraph.store.requests=1 actorgraph.store.backend=InMemoryStore -> store search
store batch (client) db.operation.batch.size=1 actorgraph.store.requests=1 actorgraph.store.backend=InMemoryStore -> store put
"""


@pytest.fixture
def llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as running:
        yield running


@pytest.fixture
async def model(llm: FakeLLMServer) -> AsyncIterator[ChatAnthropic]:
    built = ChatAnthropic("claude-test", api_key="sk-ant", base_url=llm.url)
    yield built
    await built.aclose()


async def test_the_exported_span_tree_of_a_seed_turn(
    llm: FakeLLMServer,
    model: ChatAnthropic,
    saver: MemorySaver,
    store: InMemoryStore,
) -> None:
    llm.script("/v1/messages", anthropic_message("Hi Bob!", model="claude-test-1"))
    workflow = seed_workflow(saver, store, model)
    inputs, config = bob()
    metrics = Otel()  # (its meter provider; spans go to the collector)
    with OtlpReceiver() as collector:
        provider = TracerProvider()
        exporter = OtlpSpanExporter(endpoint=f"{collector.url}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
        tracing = Tracing(
            tracer_provider=provider, meter_provider=metrics.meter_provider
        )
        with anyio.fail_after(10):
            async with Runtime(tracing=tracing):
                with provider.get_tracer("caller").start_as_current_span("request"):
                    await workflow.ainvoke(inputs, config)
        provider.shutdown()  # exports what is queued
        metrics.close()
    bodies = [body for path, _, body in collector.received if path == "/v1/traces"]
    tree = exported_tree(bodies, hidden=frozenset({"actorgraph.run.id"}))
    assert tree == SEED_TURN.rstrip("\n")
