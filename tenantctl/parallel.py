"""Run one function over many items in forked worker processes, one process per item.

Why processes, and one per item: planning a stack is CPU-bound Python (threads would share
one core), and the Pulumi SDK keeps its runtime settings in process globals, so one
process can only run one program at a time. A fresh fork per item starts from the
parent's loaded modules (no re-import), runs with clean runtime state, and returns all of
its memory when it exits: at most ``workers`` items are in memory at once beyond what the
parent keeps.

Why not ``multiprocessing.Pool``: a worker that dies (killed for memory) leaves a Pool
waiting forever. Here every worker has its own pipe; a worker that exits without an
answer is reported as :class:`WorkerDied`, and any failure stops the others.

The function and items are inherited through ``fork``, never pickled; only results and
exceptions travel back (pickled). An exception raised by the function is re-raised in the
parent as itself, so callers handle it exactly as when running in-process.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class WorkerDied(RuntimeError):
    """A worker process ended without answering (killed, out of memory, crashed)."""


class WorkerFailed(RuntimeError):
    """A worker's exception or result could not be sent back (it does not pickle)."""


def _child(fn: Callable[[Any], Any], item: Any, conn: Connection,
           initializer: Callable[[], None] | None) -> None:
    """The worker: compute, then send ("ok", result) or ("error", exception) back."""
    try:
        if initializer is not None:
            initializer()
        answer: tuple[str, Any] = ("ok", fn(item))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        answer = ("error", exc)
    try:
        conn.send(answer)
    except Exception as exc:  # noqa: BLE001 - the answer does not pickle: say what it was
        what = answer[1] if answer[0] == "error" else exc
        conn.send(("error", WorkerFailed(f"{type(what).__name__}: {what}")))
    finally:
        conn.close()


def run_each(fn: Callable[[T], R], items: Sequence[T], *, workers: int,
             cost: Callable[[T], float] | None = None,
             progress: Callable[[int, int, R], None] | None = None,
             initializer: Callable[[], None] | None = None,
             more: Callable[[R], Sequence[T]] | None = None) -> list[R]:
    """``[fn(item) for item in items]``, computed in up to ``workers`` processes at once.

    ``initializer`` runs first in each worker (to replace state a fork must not share).
    ``cost`` orders the work (highest first) so that the longest items do not start last;
    ``progress(done, total, result)`` is called as each finishes. On the first failure the
    other workers are terminated and the failure is raised.

    ``more(result)``, called after ``progress`` for each result, returns items that the
    result made possible (a merged cell to judge once its last slice is in): they start
    next, ahead of the items still waiting, and their results follow the items' in the
    list returned, in the order they were added. They are forked from the parent as it is
    then, so they see whatever ``progress`` and ``more`` stored in it.
    """
    context = multiprocessing.get_context("fork")
    work = list(items)
    order = sorted(range(len(work)), key=lambda i: -cost(work[i])) if cost else list(range(len(work)))
    queue = deque(order)
    results: dict[int, R] = {}
    running: dict[Connection, tuple[int, BaseProcess]] = {}

    def arrived(value: R) -> None:
        if more is not None:
            added = list(more(value))
            queue.extendleft(reversed(range(len(work), len(work) + len(added))))
            work.extend(added)

    try:
        while queue or running:
            while queue and len(running) < max(1, workers):
                index = queue.popleft()
                reader, writer = context.Pipe(duplex=False)
                process: BaseProcess = context.Process(
                    target=_child, args=(fn, work[index], writer, initializer), daemon=True)
                process.start()
                writer.close()
                running[reader] = (index, process)
            _collect(running, results, work, progress, arrived)
    finally:
        for reader, (_, process) in running.items():
            process.terminate()
            process.join()
            reader.close()
    return [results[i] for i in range(len(work))]


def _collect(running: dict[Connection, tuple[int, BaseProcess]], results: dict[int, R],
             items: Sequence[Any], progress: Callable[[int, int, R], None] | None,
             arrived: Callable[[R], None]) -> None:
    """Wait for at least one worker to answer; keep its result or raise its failure."""
    for reader in wait(list(running)):
        assert isinstance(reader, Connection)
        index, process = running.pop(reader)
        try:
            status, value = reader.recv()
        except EOFError:
            process.join()
            raise WorkerDied(f"a worker process exited with code {process.exitcode} without "
                             f"an answer (item {index + 1} of {len(items)}); was it out of memory?") from None
        finally:
            reader.close()
        process.join()
        if status == "error":
            raise value
        results[index] = value
        if progress is not None:
            progress(len(results), len(items), value)
        arrived(value)
