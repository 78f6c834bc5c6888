"""CPU-heavy work off the event loop: PDF and DOCX rendering, the calendar feed, directory
snapshots and imports run in a small pool of worker threads, bounded by a semaphore.

The loop serves every request, the claim loop and deliveries of a node: a render of 0.1-0.8 s
on it stalls them all (20 PDFs at once stalled /healthz for 17 s). In a worker thread the same
work still takes CPU (the GIL is shared), but the interpreter hands the GIL back to the loop at
least every switch interval (5 ms), so the loop keeps answering. The semaphore bounds how many
renders run at once (and so the memory they hold): further callers wait their turn without
blocking the loop.

    body = await offload(render_letter, context, fmt="pdf", lang="en")
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

#: Renders at once per node: the CPUs of a small host (more would only queue on the GIL).
LIMIT = max(2, min(4, os.cpu_count() or 2))

_executor: ThreadPoolExecutor | None = None
_semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=LIMIT, thread_name_prefix="preservation-cpu")
    return _executor


def _semaphore() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    sem = _semaphores.get(loop)
    if sem is None:
        sem = _semaphores[loop] = asyncio.Semaphore(LIMIT)
    return sem


async def offload(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in a worker thread (at most LIMIT at once per loop); the result,
    or the exception it raised. The caller's context variables go with it (log fields)."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    async with _semaphore():
        return await asyncio.get_running_loop().run_in_executor(_pool(), call)
