"""Field paths: which parts of a stored value are embedded, in LangGraph's syntax.

A path is ``"$"`` (the whole value) or dot-separated segments, each one of

- ``name``: a dict key; ``*``: every value of a dict (or item of a list);
- ``{a,b.c}``: several (nested) keys at once;

each followed by any number of ``[*]`` (every list item) or ``[i]``
(``i``-th item, negative from the end). ``"$.a.b"`` is ``"a.b"`` (JSONPath).

``parse_field_path`` is strict: a path LangGraph would accept and then
match nothing with (``"items[]"``, ``"{unclosed"``, ``"a[x]"``, ``"a..b"``)
is an ``InvalidIndexConfigError``, so an index never silently embeds
nothing. ``texts_at`` gives LangGraph's texts (``get_text_at_path``):
strings as they are, numbers and booleans as ``str()``, lists and dicts as
``json.dumps(..., sort_keys=True, ensure_ascii=False)``; ``None`` and
missing parts give nothing, and so (unlike LangGraph) does ``""``.

``get_text_at_path`` is LangGraph's lenient function itself, for code that
calls it directly (a bad path gives ``[]``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from types import EllipsisType
from typing import Any, Final, TypeAlias, cast, final

from ._errors import InvalidIndexConfigError


@final
class _Star:
    """The ``*`` token: every value of a dict, every item of a list."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "STAR"


STAR: Final = _Star()
Token: TypeAlias = str | int | EllipsisType | _Star | tuple[tuple[str, ...], ...]
"""A dict key, a list index, ``...`` for ``[*]``, ``STAR`` for ``*``, or the key paths of ``{a,b.c}``."""
FieldPath: TypeAlias = tuple[Token, ...]
"""A parsed field path; the empty tuple is ``"$"``."""

_NAME: Final = r"[^.\[\]{}*,]+"
_SEGMENT: Final = re.compile(
    rf"(?P<head>{_NAME}|\*|\{{(?P<fields>[^{{}}\[\]*]*)\}})(?P<idx>(?:\[(?:\*|-?\d+)\])*)"
)
_BRACKET: Final = re.compile(r"\[(\*|-?\d+)\]")
_KEY_PATH: Final = re.compile(rf"\s*{_NAME}(?:\.{_NAME})*\s*")
_SYNTAX: Final = "use '$', 'a.b', 'a.*', '{a,b.c}', 'arr[*]', 'arr[*].x' or 'arr[0]'"


def _split_segments(path: str) -> list[str]:
    """Split on dots outside braces (``{a,b.c}`` is one segment)."""
    parts: list[str] = []
    depth = start = 0
    for i, char in enumerate(path):
        depth += (char == "{") - (char == "}")
        if char == "." and depth == 0:
            parts.append(path[start:i])
            start = i + 1
    parts.append(path[start:])
    return parts


def _fields(inner: str, path: str) -> tuple[tuple[str, ...], ...]:
    names = inner.split(",")
    if not all(_KEY_PATH.fullmatch(n) for n in names):
        raise InvalidIndexConfigError(
            f"bad field path {path!r}: '{{...}}' holds comma-separated keys or key "
            "paths, e.g. '{name,info.age}'"
        )
    return tuple(tuple(n.strip().split(".")) for n in names)


def parse_field_path(path: object) -> FieldPath:
    """Parse a field path (see the module docstring).

    Raises:
        InvalidIndexConfigError: if ``path`` is not a non-empty string in that syntax.
    """
    if not isinstance(path, str) or not path:
        raise InvalidIndexConfigError(
            f"field paths must be non-empty strings, got {path!r}"
        )
    if path == "$":
        return ()
    body = path.removeprefix("$.")  # JSONPath spelling of a top-level field
    tokens: list[Token] = []
    for segment in _split_segments(body):
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            raise InvalidIndexConfigError(f"bad field path {path!r}: {_SYNTAX}")
        head = match.group("head")
        if match.group("fields") is not None:
            tokens.append(_fields(match.group("fields"), path))
        else:
            tokens.append(STAR if head == "*" else head)
        tokens.extend(
            ... if index == "*" else int(index)
            for index in _BRACKET.findall(match.group("idx"))
        )
    return tuple(tokens)


def multi_part(path: FieldPath) -> bool:
    """Whether ``path`` can give one value several parts (``[*]``, ``*`` or ``{a,b}``)."""
    return any(t is ... or t is STAR or isinstance(t, tuple) for t in path)


def _step(nodes: list[Any], token: Token) -> list[Any]:
    out: list[Any] = []
    for node in nodes:
        if isinstance(token, str):
            if isinstance(node, Mapping) and token in node:
                out.append(cast("Mapping[str, Any]", node)[token])
        elif token is STAR:
            if isinstance(node, Mapping):
                out.extend(cast("Mapping[str, Any]", node).values())
            elif isinstance(node, list):
                out.extend(cast("list[Any]", node))
        elif isinstance(token, tuple):
            if isinstance(node, Mapping):
                for keys in token:
                    found: list[Any] = [node]
                    for key in keys:
                        found = _step(found, key)
                    out.extend(found)
        elif isinstance(node, list):
            items = cast("list[Any]", node)  # JSON data
            if token is ...:
                out.extend(items)
            elif isinstance(token, int) and -len(items) <= token < len(items):
                out.append(items[token])
    return out


def _text(node: Any) -> str | None:
    if node is None or node == "":
        return None
    if isinstance(node, str):
        return node
    if isinstance(node, list | dict):
        return json.dumps(node, sort_keys=True, ensure_ascii=False)
    return str(node)


def texts_at(value: Mapping[str, Any], path: FieldPath) -> list[str]:
    """The texts to embed for ``path`` in ``value`` (LangGraph's texts, without empty strings)."""
    nodes: list[Any] = [value]
    for token in path:
        nodes = _step(nodes, token)
    return [t for t in map(_text, nodes) if t is not None]


# -- LangGraph's lenient get_text_at_path ---------------------------------------
# Adapted from langgraph.store.base.embed (MIT License, Copyright (c) 2024
# LangChain, Inc.): the same texts for the same paths, bad ones included.


def _dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def tokenize_path(path: str) -> list[str]:
    """LangGraph's tokens of ``path``: keys, ``"[i]"``, ``"*"`` and ``"{a,b}"``."""
    tokens: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(path):
        char = path[i]
        if char in "[{":
            if current:
                tokens.append("".join(current))
                current = []
            close = "]" if char == "[" else "}"
            depth, chars = 1, [char]
            i += 1
            while i < len(path) and depth > 0:
                depth += (path[i] == char) - (path[i] == close)
                chars.append(path[i])
                i += 1
            tokens.append("".join(chars))
            continue
        if char == ".":
            if current:
                tokens.append("".join(current))
                current = []
        else:
            current.append(char)
        i += 1
    if current:
        tokens.append("".join(current))
    return tokens


def _leaf(obj: Any) -> list[str]:
    if isinstance(obj, str | int | float | bool):
        return [str(obj)]
    if isinstance(obj, list | dict):
        return [_dump(obj)]
    return []


def _braces(obj: dict[str, Any], token: str) -> list[str]:
    results: list[str] = []
    for field in (f.strip() for f in token[1:-1].split(",")):
        current: Any = obj
        keys = tokenize_path(field)
        if not keys:
            continue
        for key in keys:
            if not (isinstance(current, dict) and key in current):
                current = None
                break
            current = cast("dict[str, Any]", current)[key]
        if current is not None:
            results.extend(_leaf(current))
    return results


def _extract(obj: Any, tokens: list[str], pos: int) -> list[str]:
    if pos >= len(tokens):
        return _leaf(obj)
    token = tokens[pos]
    results: list[str] = []
    if token.startswith("[") and token.endswith("]"):
        if not isinstance(obj, list):
            return []
        items = cast("list[Any]", obj)
        index = token[1:-1]
        if index == "*":
            for item in items:
                results.extend(_extract(item, tokens, pos + 1))
        elif re.fullmatch(r"-?\d+", index):
            idx = int(index) + (len(items) if int(index) < 0 else 0)
            if 0 <= idx < len(items):
                results.extend(_extract(items[idx], tokens, pos + 1))
    elif token.startswith("{") and token.endswith("}"):
        if isinstance(obj, dict):
            results.extend(_braces(cast("dict[str, Any]", obj), token))
    elif token == "*":
        values: Iterable[Any] = (
            cast("dict[str, Any]", obj).values()
            if isinstance(obj, dict)
            else cast("list[Any]", obj)
            if isinstance(obj, list)
            else ()
        )
        for value in values:
            results.extend(_extract(value, tokens, pos + 1))
    elif isinstance(obj, dict) and token in obj:
        results.extend(_extract(cast("dict[str, Any]", obj)[token], tokens, pos + 1))
    return results


def get_text_at_path(obj: Any, path: str | list[str]) -> list[str]:
    """LangGraph's ``get_text_at_path``: the texts at ``path`` in ``obj``; never raises.

    ``""`` and ``"$"`` give the whole object as JSON; a path that matches
    nothing, or is malformed, gives ``[]``.
    """
    if not path or path == "$":
        return [_dump(obj)]
    tokens = tokenize_path(path) if isinstance(path, str) else path
    return _extract(obj, tokens, 0)
