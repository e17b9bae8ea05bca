"""Embedders: the protocol stores call, the offline default, and OpenAI's."""

from ._hashing import (
    Embeddings as Embeddings,
    HashingEmbeddings as HashingEmbeddings,
    ensure_embeddings as ensure_embeddings,
)
from ._openai import OpenAIEmbeddings as OpenAIEmbeddings

__all__ = ["Embeddings", "HashingEmbeddings", "OpenAIEmbeddings", "ensure_embeddings"]
