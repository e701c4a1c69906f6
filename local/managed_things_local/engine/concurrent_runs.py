"""Running the nodes of a graph concurrently, each once its prerequisites succeeded: the resources of a stack, the
stacks of a deploy. Threads and Ctrl-C, so not in the pure ``cloudformation.graph``, whose orders it follows."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from ..cloudformation.graph import Graph, prepared_sorter
from .interrupts import StopWaiting

_POLL_SECONDS = 0.1  # how soon an interrupt stops new work from starting


def run_concurrently(
    nodes: Sequence[str],
    prerequisites: Graph,
    work: Callable[[str], bool],
    *,
    concurrency: int,
    stop_on_failure: bool,
    on_interrupt: Callable[[], None],
    should_stop: Callable[[], bool] = lambda: False,
    thread_name_prefix: str = "resource",
) -> dict[str, bool | None]:
    """Run ``work`` on each node once all its prerequisites succeeded, up to ``concurrency`` at a time.

    True: succeeded; False: failed; None: not started (a prerequisite failed, or
    the run stopped at a failure or an interrupt). ``should_stop`` (polled) or a
    KeyboardInterrupt while waiting (then ``on_interrupt`` is called) stops
    starting new work and lets what is running finish; ``StopWaiting`` (a
    second Ctrl-C) propagates at once, without waiting for what is running.
    """
    sorter = prepared_sorter(nodes, prerequisites, "The resources")
    members = set(nodes)
    needs = {node: set(prerequisites.get(node, ())) & members - {node} for node in nodes}
    position = {node: index for index, node in enumerate(nodes)}
    results: dict[str, bool | None] = {}
    ready: list[tuple[int, str]] = []  # a heap: the template's order among what is ready
    running: dict[Future[bool], str] = {}
    stopping = False

    def take_ready() -> None:
        for node in sorter.get_ready():
            heapq.heappush(ready, (position[node], node))

    pool = ThreadPoolExecutor(max(1, concurrency), thread_name_prefix=thread_name_prefix)
    try:
        while True:
            stopping = stopping or should_stop()
            if not stopping:
                take_ready()
                while ready and len(running) < concurrency:
                    _, node = heapq.heappop(ready)
                    if all(results.get(p) is True for p in needs[node]):
                        running[pool.submit(work, node)] = node
                    else:  # a prerequisite failed or never ran: this one does not start either
                        results[node] = None
                        sorter.done(node)
                        take_ready()
            if not running:
                if stopping or not ready:
                    break
                continue
            try:
                done, _ = wait(running, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
            except StopWaiting:
                raise
            except KeyboardInterrupt:
                stopping = True
                on_interrupt()
                continue
            for future in done:
                node = running.pop(future)
                results[node] = future.result()
                sorter.done(node)
                if results[node] is False and stop_on_failure:
                    stopping = True
    except BaseException:
        # Stop waiting (a second Ctrl-C, say): nothing new starts, and what runs is not waited for.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    for node in nodes:
        results.setdefault(node, None)
    return results
