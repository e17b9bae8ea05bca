"""``Runtime(tracing=...)`` and the ``OTEL_*`` environment: off by default, on when asked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from runtime import Runtime, Tracing, _tracing, entrypoint
from stores import MemorySaver
from tests.otel_support import Otel, OtlpReceiver

from .conftest import thread

OTEL_VARS = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No OTEL_* set, and no SDK providers built from an earlier environment."""
    for var in OTEL_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(_tracing, "_from_env", None)
    yield
    if _tracing._from_env is not None:  # pyright: ignore[reportPrivateUsage]
        for provider in _tracing._from_env:  # pyright: ignore[reportPrivateUsage]
            provider.shutdown()


def test_off_by_default() -> None:
    assert not _tracing.environment_asks()
    assert Runtime().telemetry is None
    assert Runtime(tracing=False).telemetry is None


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_METRICS_EXPORTER", "console"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
    ],
)
def test_the_environment_switches_it_on(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    assert _tracing.environment_asks()
    telemetry = Runtime().telemetry
    assert telemetry is not None
    assert not telemetry.content
    assert Runtime(tracing=False).telemetry is None  # False wins over the environment


def test_none_exporters_do_not_count_as_asking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    assert Runtime().telemetry is None


def test_sdk_disabled_keeps_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert Runtime().telemetry is None
    assert Runtime(tracing=True).telemetry is None


async def test_the_environment_exports_over_otlp_with_its_headers(
    monkeypatch: pytest.MonkeyPatch, saver: MemorySaver
) -> None:
    """What the README says for LangSmith: an OTLP endpoint and headers, no code."""

    @entrypoint(checkpointer=saver)
    async def echo(text: str) -> str:
        return text

    with OtlpReceiver() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        monkeypatch.setenv(
            "OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=secret,Langsmith-Project=demo"
        )
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
        async with Runtime() as rt:
            assert rt.telemetry is not None
            await echo.ainvoke("hi", thread())
        found = _tracing._from_env  # pyright: ignore[reportPrivateUsage]
        assert found is not None
        assert isinstance(found[0], TracerProvider)
        found[0].force_flush()  # the batch processor sends it now
        assert "invoke_workflow echo" in collector.span_names()
        headers = {k.lower(): v for k, v in collector.received[0][1].items()}
        assert headers["x-api-key"] == "secret"
        assert headers["langsmith-project"] == "demo"
        async with Runtime() as again:  # one SDK pair per process
            assert again.telemetry is not None
        assert _tracing._from_env is found  # pyright: ignore[reportPrivateUsage]


def test_an_unknown_exporter_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "nosuchexporter")
    with pytest.raises(ValueError, match=r"'nosuchexporter'.*actorgraph\[otel\]"):
        Runtime()


def test_true_without_environment_uses_the_sdk_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")  # nothing is sent anywhere
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    telemetry = Runtime(tracing=True).telemetry
    assert telemetry is not None
    assert _tracing._from_env is not None  # pyright: ignore[reportPrivateUsage]


def test_content_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    otel = Otel()
    try:
        assert Runtime(tracing=otel.tracing(content=True)).telemetry.content  # type: ignore[union-attr]
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
        assert Runtime(tracing=otel.tracing(content=None)).telemetry.content  # type: ignore[union-attr]
        assert not Runtime(tracing=otel.tracing(content=False)).telemetry.content  # type: ignore[union-attr]
    finally:
        otel.close()


def test_a_bad_option_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="tracing must be None, True, False or Tracing"):
        Runtime(tracing="yes")  # type: ignore[arg-type]
    assert Tracing().content is None
