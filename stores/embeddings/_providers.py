"""``embed="provider:model"`` strings, as LangGraph's index config takes them.

``"openai:<model>"`` is our ``OpenAIEmbeddings`` (no LangChain needed). Any
other provider goes through LangChain's ``init_embeddings`` (the
``langchain`` package and the provider's integration, e.g.
``langchain-cohere``), as in LangGraph; without them the error says what to
install.
"""

from __future__ import annotations

import importlib
from typing import Any

from stores._errors import InvalidIndexConfigError


def embeddings_from_string(spec: str) -> Any:
    """The embedder ``spec`` names; InvalidIndexConfigError for a malformed or unavailable one."""
    provider, sep, model = spec.partition(":")
    if not sep or not provider or not model:
        raise InvalidIndexConfigError(
            f"embed strings are 'provider:model', e.g. 'openai:text-embedding-3-small', got {spec!r}"
        )
    if provider == "openai":
        from ._openai import OpenAIEmbeddings

        return OpenAIEmbeddings(model=model)
    try:
        init_embeddings = importlib.import_module(
            "langchain.embeddings"
        ).init_embeddings
    except (ImportError, AttributeError) as exc:
        raise InvalidIndexConfigError(
            f"embed={spec!r} needs LangChain's init_embeddings: pip install langchain "
            f"langchain-{provider} (or pass an Embeddings object)"
        ) from exc
    return init_embeddings(spec)
