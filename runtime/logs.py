"""structlog, configured once per process from main.py.

JSON lines to stderr in the service (machine-read), a readable console renderer on a terminal.
Each actor binds its own ids (group_id, leg_id, child_id) into its logger; ids travel in messages
because contextvars are per thread and would not follow a message from one actor to the next.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any

import structlog

_state = {"configured": False}


class _CurrentStderr:
    """Writes each line to whatever ``sys.stderr`` is *now*.

    A logger bound to the stream that was current at configure time outlives it when that stream is
    replaced and closed (pytest's capture does exactly that), and then every log call raises. A log
    line must never be the thing that fails an actor, so a line with nowhere to go is dropped.
    """

    def msg(self, message: str) -> None:
        with contextlib.suppress(ValueError, OSError):
            print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass

    def handleError(self, record: logging.LogRecord) -> None:
        pass


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
        logger_factory=lambda *args: _CurrentStderr(),
        cache_logger_on_first_use=True,
    )
    # pykka logs actor failures through the stdlib; route them to the same stream.
    handler = _CurrentStderrHandler()
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logging.basicConfig(level=getattr(logging, level.upper()), handlers=[handler])
    _state["configured"] = True


def is_configured() -> bool:
    return _state["configured"]
