"""``pretty_repr``/``pretty_print`` for messages, in LangChain's exact layout."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any


def _title(title: str, *, bold: bool = False) -> str:
    padded = " " + title + " "
    sep_len = (80 - len(padded)) // 2
    sep = "=" * sep_len
    second_sep = sep + "=" if len(padded) % 2 else sep
    if bold:
        padded = f"\033[1m{padded}\033[0m"
    return f"{sep}{padded}{second_sep}"


def _tool_call_lines(call: Mapping[str, Any]) -> list[str]:
    lines = [
        f"  {call.get('name', 'Tool')} ({call.get('id')})",
        f" Call ID: {call.get('id')}",
    ]
    if call.get("error"):
        lines.append(f"  Error: {call.get('error')}")
    lines.append("  Args:")
    args = call.get("args")
    if isinstance(args, str):
        lines.append(f"    {args}")
    elif isinstance(args, Mapping):
        lines.extend(f"    {arg}: {value}" for arg, value in args.items())  # pyright: ignore[reportUnknownVariableType] -- JSON data
    return lines


def pretty_repr(message: Any, html: bool = False) -> str:
    """The text LangChain's ``BaseMessage.pretty_repr`` gives for ``message``."""
    title = _title(message.type.title() + " Message", bold=html)
    if message.name is not None:
        title += f"\nName: {message.name}"
    base = f"{title}\n\n{message.content}"
    calls = getattr(message, "tool_calls", None)
    invalid = getattr(message, "invalid_tool_calls", None)
    if calls is None and invalid is None:
        return base
    lines: list[str] = []
    if calls:
        lines.append("Tool Calls:")
        for call in calls:
            lines.extend(_tool_call_lines(call))
    if invalid:
        lines.append("Invalid Tool Calls:")
        for call in invalid:
            lines.extend(_tool_call_lines(call))
    return (base.strip() + "\n" + "\n".join(lines)).strip()


def pretty_print(message: Any) -> None:
    """Print ``pretty_repr(message)``, bold titles in an interactive session (as LangChain)."""
    print(pretty_repr(message, html=hasattr(sys, "ps2")))  # noqa: T201 -- printing is the point
