"""The signals that stop a foreground local command, each followed by the same teardown: Ctrl-C,
`kill`, and the terminal going away (SIGHUP: the window closed, the ssh session dropped)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """While a local command works, SIGTERM and SIGHUP interrupt it as Ctrl-C does, so whatever it
    started is torn down (their default action would end the process with nothing cleaned up)."""

    def interrupt(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    with _handling((signal.SIGTERM, signal.SIGHUP), interrupt):
        yield


@contextlib.contextmanager
def stop_signals_recorded() -> Iterator[list[str]]:
    """While it lasts, a stop signal is only noted (its name appended to the list yielded): the
    caller ends what it is doing when it sees one, and tears down in order."""
    received: list[str] = []

    def note(signum: int, _frame: Any) -> None:
        received.append(signal.Signals(signum).name)

    with _handling(STOP_SIGNALS, note):
        yield received


@contextlib.contextmanager
def _handling(signals: tuple[signal.Signals, ...], handler: Any) -> Iterator[None]:
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
