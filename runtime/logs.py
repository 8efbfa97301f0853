"""structlog, configured once per process from main.py.

JSON lines to stderr in the service (machine-read), a readable console renderer on a terminal.
Each actor binds its own ids (group_id, leg_id, child_id) into its logger; ids travel in messages
because contextvars are per thread and would not follow a message from one actor to the next.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_state = {"configured": False}


def configure_logging(*, json: bool | None = None, level: str = "INFO") -> None:
    if json is None:
        json = not sys.stderr.isatty()
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # pykka logs actor failures through the stdlib; route them to the same stream.
    logging.basicConfig(level=getattr(logging, level.upper()), stream=sys.stderr, format="%(name)s %(message)s")
    _state["configured"] = True


def is_configured() -> bool:
    return _state["configured"]
