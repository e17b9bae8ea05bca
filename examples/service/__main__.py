"""``python -m examples.service [--host H] [--port P] [--loop auto|asyncio|uvloop] [--no-access-log]``: serve the app with uvicorn."""

from __future__ import annotations

import argparse

import uvicorn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="the actorgraph conversation service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--loop",
        choices=["auto", "asyncio", "uvloop"],
        default="auto",
        help="event loop (auto: uvloop when installed)",
    )
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log every request",
    )
    args = parser.parse_args(argv)
    uvicorn.run(
        "examples.service.app:app",
        host=args.host,
        port=args.port,
        loop=args.loop,
        access_log=args.access_log,
    )


if __name__ == "__main__":
    main()
