"""Every order of the local deploy, through ``graphlib``: stacks, resources, and running them concurrently.

A graph here maps each node to the nodes it depends on (its prerequisites).
A cycle is a ``DeployError`` whose one line names the nodes of the cycle.
"""

from __future__ import annotations

import graphlib
import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from ..engine.interrupts import StopWaiting
from ..errors import DeployError

Graph = Mapping[str, Iterable[str]]
_POLL_SECONDS = 0.1  # how soon an interrupt stops new work from starting


def _sorter(nodes: Sequence[str], prerequisites: Graph, what: str) -> graphlib.TopologicalSorter[str]:
    members = set(nodes)
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for node in nodes:
        sorter.add(node, *sorted(set(prerequisites.get(node, ())) & members - {node}))
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        cycle = error.args[1]
        raise DeployError(f"{what} depend on each other in a cycle: {' -> '.join(cycle)}") from None
    return sorter


def ordered(nodes: Sequence[str], prerequisites: Graph, what: str = "The stacks") -> list[str]:
    """``nodes`` with each after its prerequisites; ties keep the order of ``nodes``."""
    sorter = _sorter(nodes, prerequisites, what)
    position = {node: index for index, node in enumerate(nodes)}
    result: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        result += ready
        sorter.done(*ready)
    return result


def reverse(nodes: Sequence[str], prerequisites: Graph) -> dict[str, set[str]]:
    """The graph turned around: each node -> the nodes that depend on it (for deletes, dependents first)."""
    members = set(nodes)
    turned: dict[str, set[str]] = {node: set() for node in nodes}
    for node in nodes:
        for prerequisite in set(prerequisites.get(node, ())) & members - {node}:
            turned[prerequisite].add(node)
    return turned


def check_acyclic(nodes: Sequence[str], prerequisites: Graph, what: str) -> None:
    _sorter(nodes, prerequisites, what)


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
    sorter = _sorter(nodes, prerequisites, "The resources")
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
