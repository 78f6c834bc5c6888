"""CPU-heavy work off the event loop: the calendar feed, directory snapshots and imports run in a
small pool of worker threads, PDF and DOCX rendering in a worker process (`in_process`), both
bounded by one semaphore.

The loop serves every request, the claim loop and deliveries of a node: a render of 0.1-0.8 s
on it stalls them all (20 PDFs at once stalled /healthz for 17 s). In a worker thread the same
work still takes CPU (the GIL is shared), but the interpreter hands the GIL back to the loop at
least every switch interval (5 ms), so the loop keeps answering. The semaphore bounds how many
renders run at once (and so the memory they hold): further callers wait their turn without
blocking the loop.

    body = await offload(render_letter, context, fmt="pdf", lang="en")

One thing a thread does not free the loop from: the cyclic garbage collector stops every thread
while it walks the heap, and a job that makes tens of thousands of long-lived objects (an import
of 10,000 providers, a directory snapshot, a PDF's font tables) sets off full collections of
100-200 ms. Such jobs run with `bulk=True`: the collector is held off for their duration. Those
whose result lives on (a snapshot, an import's rows) also ask to `keep` it: it is moved to the
permanent generation, and freed by reference counting when dropped (such results hold no
reference cycles). `freeze_heap()` at start-up does the same for what the node loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import gc
import multiprocessing
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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


async def offload(
    fn: Callable[..., T], /, *args: Any, bulk: bool = False, keep: bool = False, **kwargs: Any
) -> T:
    """`fn(*args, **kwargs)` in a worker thread (at most LIMIT at once per loop); the result,
    or the exception it raised. The caller's context variables go with it (log fields). With
    `bulk`, the cyclic garbage collector is held off while it runs; with `keep` too, what it
    leaves alive goes to the permanent generation (see the module's docstring)."""
    target = functools.partial(_without_gc, fn, keep) if bulk else fn
    call = functools.partial(contextvars.copy_context().run, target, *args, **kwargs)
    async with _semaphore():
        return await asyncio.get_running_loop().run_in_executor(_pool(), call)


_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = True
_gc_keep = False


@contextlib.contextmanager
def gc_paused(*, keep: bool = False) -> Iterator[None]:
    """Hold off the cyclic garbage collector (re-entrant across threads: it comes back when the
    last holder is done, if it was on before the first). With `keep`, what is alive then is
    moved to the permanent generation first: a job's long-lived result (a snapshot, an import's
    rows) would otherwise all be young, and the first collection would walk it in one go; there
    it is freed by reference counting when dropped (such results hold no reference cycles). A
    render's garbage (cycles included) is left to the collector."""
    global _gc_holders, _gc_was_enabled, _gc_keep
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            _gc_keep = False
            gc.disable()
        _gc_holders += 1
        _gc_keep = _gc_keep or keep
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                if _gc_keep:
                    gc.freeze()
                gc.enable()


def _without_gc(fn: Callable[..., T], keep: bool, /, *args: Any, **kwargs: Any) -> T:
    with gc_paused(keep=keep):
        return fn(*args, **kwargs)


# --- a worker process for renders ------------------------------------------------------------

#: Worker processes for renders (PDF, DOCX): one keeps the node's memory and CPU apart from them.
PROCESSES = 1
_processes: ProcessPoolExecutor | None = None


def _process_pool() -> ProcessPoolExecutor:
    global _processes
    if _processes is None:
        # spawn, not fork: the node has threads (aiosqlite, this pool), which fork does not copy.
        _processes = ProcessPoolExecutor(
            max_workers=PROCESSES, mp_context=multiprocessing.get_context("spawn")
        )
    return _processes


def _guarded(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run in the worker process: the result, or the service error it raised as plain values
    (an error class's own constructor may not take what pickling gives it back)."""
    from preservation.errors import PreservationError

    try:
        return ("ok", fn(*args, **kwargs))
    except PreservationError as exc:
        kind = type(exc)
        return (
            "error",
            kind.__module__,
            kind.__qualname__,
            exc.detail,
            [(e.field, e.message) for e in exc.errors],
        )


def _raise(module: str, name: str, detail: str, errors: list[tuple[str, str]]) -> None:
    import importlib

    from preservation.errors import FieldError, PreservationError

    kind = getattr(importlib.import_module(module), name, PreservationError)
    exc = kind.__new__(kind)
    PreservationError.__init__(
        exc, detail, errors=[FieldError(field=f, message=m) for f, m in errors]
    )
    raise exc


async def in_process(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in a worker process (a module-level function, picklable arguments):
    for renders whose libraries would otherwise load into the node (fpdf and its fonts take
    60 MB) and whose CPU and garbage would share its interpreter. Bounded like `offload`; a
    service error raised there is raised here; a worker that died is replaced once."""
    global _processes
    loop = asyncio.get_running_loop()
    async with _semaphore():
        for attempt in (1, 2):
            try:
                outcome = await loop.run_in_executor(_process_pool(), _guarded, fn, args, kwargs)
                break
            except BrokenProcessPool:
                _processes = None
                if attempt == 2:
                    raise
    if outcome[0] == "error":
        _raise(*outcome[1:])
    return outcome[1]  # type: ignore[no-any-return]


#: How long a thread may hold the interpreter before handing it over (Python's default: 5 ms).
SWITCH_INTERVAL = 0.001


def favour_the_loop() -> None:
    """Shorten the interpreter's switch interval (call at the node's start): while a worker
    thread builds a snapshot or a feed, the event loop waits at most this long for its turn
    instead of 5 ms, several times per request (each hand-over to aiosqlite's threads and back
    is a wait). Measured under load: a directory rebuild's stalls of 30-350 ms fell to 30-60."""
    sys.setswitchinterval(SWITCH_INTERVAL)


def start_worker_process() -> None:
    """Start the render worker now (at the node's start), so the first PDF does not wait for a
    Python process to start and load its libraries (1-2 s, on CPUs the node shares)."""
    _process_pool().submit(os.getpid)


@functools.cache
def _libc() -> Any:
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


#: glibc's mallopt parameter for the number of malloc arenas.
_M_ARENA_MAX = -8
#: Arenas the node's threads share: glibc gives each thread its own by default (up to eight per
#: core), and memory freed in one is not reused by another.
ARENAS = 2


def limit_arenas() -> None:
    """Share few malloc arenas between the node's threads (aiosqlite's, the worker threads):
    call at the node's start, before any thread. Measured with bench/bench_history.py at 1,000
    requests: the node's memory after the run fell from 279 to 261 MB."""
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(_M_ARENA_MAX, ARENAS)


async def trim_heap() -> None:
    """Give the memory a big job freed back to the system (glibc keeps it otherwise: after an
    import of 10,000 providers, tens of MB). In a worker thread: it walks the heap."""
    libc = _libc()
    if libc is not None:
        await offload(libc.malloc_trim, 0)


def freeze_heap() -> None:
    """Collect once, then move every object alive into the permanent generation (call when the
    node has started: its modules, models and tables are never garbage)."""
    gc.collect()
    gc.freeze()
