"""CPU-heavy work off the event loop: PDF and DOCX rendering, the calendar feed, directory
snapshots and imports run in a small pool of worker threads, bounded by a semaphore.

The loop serves every request, the claim loop and deliveries of a node: a render of 0.1-0.8 s
on it stalls them all (20 PDFs at once stalled /healthz for 17 s). In a worker thread the same
work still takes CPU (the GIL is shared), but the interpreter hands the GIL back to the loop at
least every switch interval (5 ms), so the loop keeps answering. The semaphore bounds how many
renders run at once (and so the memory they hold): further callers wait their turn without
blocking the loop.

    body = await offload(render_letter, context, fmt="pdf", lang="en")

One thing a thread does not free the loop from: the cyclic garbage collector stops every thread
while it walks the heap, and a job that makes tens of thousands of long-lived objects (an import
of 10,000 providers, a directory snapshot) sets off full collections of 100-200 ms. Such jobs run
with `bulk=True`: the collector is held off for their duration, and what they leave alive is
moved to the permanent generation (freed by reference counting when dropped: imports and
snapshots hold no reference cycles). `freeze_heap()` at start-up moves what the node
loaded into the permanent generation, so later full collections do not walk it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import gc
import os
import threading
import weakref
from collections.abc import Callable, Iterator
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


async def offload(fn: Callable[..., T], /, *args: Any, bulk: bool = False, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in a worker thread (at most LIMIT at once per loop); the result,
    or the exception it raised. The caller's context variables go with it (log fields). With
    `bulk`, the cyclic garbage collector is held off while it runs (see the module's docstring)."""
    target = functools.partial(_without_gc, fn) if bulk else fn
    call = functools.partial(contextvars.copy_context().run, target, *args, **kwargs)
    async with _semaphore():
        return await asyncio.get_running_loop().run_in_executor(_pool(), call)


_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = True


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector (re-entrant across threads: it comes back when the
    last holder is done, if it was on before the first)."""
    global _gc_holders, _gc_was_enabled
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                # What the job made and still holds would all be young now: the first
                # collection would walk it in one go. Moved to the permanent generation, it is
                # freed by reference counting when dropped (the job's objects hold no cycles).
                gc.freeze()
                gc.enable()


def _without_gc(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    with gc_paused():
        return fn(*args, **kwargs)


def freeze_heap() -> None:
    """Collect once, then move every object alive into the permanent generation (call when the
    node has started: its modules, models and tables are never garbage)."""
    gc.collect()
    gc.freeze()
