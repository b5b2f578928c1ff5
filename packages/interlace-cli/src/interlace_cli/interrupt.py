"""Ctrl-C during a long command: the first press cancels cleanly, a second one quits at once."""

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

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


def run_interruptibly(main: Coroutine[Any, Any, T], on_cancel: Callable[[], None]) -> T:
    """Run ``main`` like :func:`asyncio.run`, with Ctrl-C handled for people.

    The first Ctrl-C cancels ``main``: running statements are interrupted and models that finished
    stay published; ``on_cancel`` tells the user what is happening. When ``main`` has stopped,
    :class:`KeyboardInterrupt` is raised. A Python model cannot be stopped from outside, so a
    second Ctrl-C exits the process at once; the next run cleans up what was left behind.

    Example::

        result = run_interruptibly(interlace.run(project), on_cancel=lambda: print("stopping"))
    """
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(main)  # signals only reach the main thread
    with asyncio.Runner() as runner:
        loop = runner.get_loop()
        task = loop.create_task(main)
        presses = 0

        def on_sigint(signum: int, frame: FrameType | None) -> None:
            nonlocal presses
            presses += 1
            if presses == 1:
                on_cancel()
                loop.call_soon_threadsafe(task.cancel)
                return
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            return loop.run_until_complete(task)
        except asyncio.CancelledError:
            raise KeyboardInterrupt from None
        finally:
            # after a first Ctrl-C the process is on its way out: another press, even during the
            # summary or interpreter shutdown, must still exit with 130 (not die of the signal)
            signal.signal(signal.SIGINT, on_sigint if presses else previous)
            if presses:
                # interpreter shutdown puts Python handlers back to the default (death by signal,
                # not 130); an ignored signal stays ignored through it
                atexit.register(signal.signal, signal.SIGINT, signal.SIG_IGN)
