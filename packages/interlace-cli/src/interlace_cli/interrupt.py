"""Ctrl-C or SIGTERM during a long command: the first one cancels cleanly, a second quits at once.

SIGTERM is what `kill`, systemd, Docker and CI runners send to stop a process; it is handled like
Ctrl-C so that a run stopped that way is cancelled and recorded, not left 'running'.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from types import FrameType

T = TypeVar("T")

EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130: what shells report for Ctrl-C
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A command was cancelled by a signal; ``exit_code`` is 128 + the signal, as shells expect.

    Example::

        try:
            run_interruptibly(work(), on_cancel=print)
        except Interrupted as stop:
            sys.exit(stop.exit_code)
    """

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def terminated(self) -> bool:
        """True for SIGTERM (a process manager stopped us), False for Ctrl-C."""
        return self.signum == signal.SIGTERM

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def stop_message(signum: int, detail: str = "") -> str:
    """The line printed when the first signal arrives: ``cancelling{detail} (...)``."""
    if signum == signal.SIGTERM:
        return f"terminated (SIGTERM): cancelling{detail} (a second signal quits at once)"
    return f"cancelling{detail} (press Ctrl-C again to quit at once)"


def run_interruptibly(main: Coroutine[Any, Any, T], on_cancel: Callable[[int], None]) -> T:
    """Run ``main`` like :func:`asyncio.run`, with Ctrl-C and SIGTERM handled for people.

    The first signal calls ``on_cancel(signum)`` and cancels ``main``: running statements are
    interrupted and models that finished stay published. When ``main`` has stopped,
    :class:`Interrupted` is raised (unless ``main`` chose to return after the cancellation).
    A Python model cannot be stopped from outside, so a second signal exits the process at once
    (128 + that signal); the next run cleans up what was left behind.

    Example::

        result = run_interruptibly(interlace.run(project), on_cancel=lambda s: print("stopping"))
    """
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(main)  # signals only reach the main thread
    with asyncio.Runner() as runner:
        loop = runner.get_loop()
        task = loop.create_task(main)
        received: list[int] = []

        def on_signal(signum: int, frame: FrameType | None) -> None:
            received.append(signum)
            if len(received) == 1:
                on_cancel(signum)
                loop.call_soon_threadsafe(task.cancel)
                return
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(128 + signum)

        previous = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
        try:
            return loop.run_until_complete(task)
        except asyncio.CancelledError:
            raise Interrupted(received[0] if received else signal.SIGINT) from None
        finally:
            # after a first signal the process is on its way out: another one, even during the
            # summary or interpreter shutdown, must still exit with 128 + signal (not die of it)
            for signum, handler in previous.items():
                signal.signal(signum, on_signal if received else handler)
                if received:
                    # interpreter shutdown puts Python handlers back to the default (death by
                    # signal, not an exit code); an ignored signal stays ignored through it
                    atexit.register(signal.signal, signum, signal.SIG_IGN)
