"""A bounded gate for language-model answers: a few run, a few wait in line, the rest are told "busy".

Generating with an LLM takes tens of seconds; extractive answers take a fraction of one. The UI sizes its
worker pool as (extractive workers + LLM capacity + LLM queue), and every LLM request passes this gate
first, so LLM requests (running or waiting) can never hold more than capacity + queue workers: the
extractive workers are always free. A waiting request learns its place in line as it changes.

    gate = shared_gate(capacity=1, queue=8)
    ticket = gate.join()                 # LLMBusy at once when the line is full
    try:
        while not gate.wait(ticket, 0.5):
            show(gate.position(ticket))
        ...generate...
    finally:
        gate.leave(ticket)
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from rag.errors import LLMError


class LLMBusy(LLMError):
    """Every LLM slot is taken and the waiting line is full."""


@dataclass(eq=False)
class Ticket:
    admitted: bool = False
    left: bool = field(default=False, repr=False)


class LLMGate:
    """At most `capacity` tickets admitted at once, at most `queue` waiting (first come, first served)."""

    def __init__(self, capacity: int = 1, queue: int = 8) -> None:
        if capacity < 1 or queue < 0:
            raise ValueError("capacity must be ≥ 1 and queue ≥ 0")
        self.capacity, self.queue = capacity, queue
        self._cond = threading.Condition()
        self._running = 0
        self._waiting: deque[Ticket] = deque()

    def join(self) -> Ticket:
        """A ticket, admitted now if a slot is free, else queued; LLMBusy when the line is full."""
        with self._cond:
            ticket = Ticket()
            if self._running < self.capacity and not self._waiting:
                ticket.admitted = True
                self._running += 1
            elif len(self._waiting) >= self.queue:
                raise LLMBusy(f"the language model is busy ({self.capacity} answering, {len(self._waiting)} "
                              "waiting); try again in a minute, or use the extractive backend")
            else:
                self._waiting.append(ticket)
            return ticket

    def wait(self, ticket: Ticket, timeout: float | None = None) -> bool:
        """True once the ticket is admitted; False if `timeout` passed first."""
        with self._cond:
            if not ticket.admitted:
                self._cond.wait_for(lambda: ticket.admitted, timeout)
            return ticket.admitted

    def position(self, ticket: Ticket) -> int:
        """1 for the next in line; 0 when admitted (or gone)."""
        with self._cond:
            try:
                return self._waiting.index(ticket) + 1
            except ValueError:
                return 0

    def leave(self, ticket: Ticket) -> None:
        """Give the slot (or the place in line) back; safe to call twice."""
        with self._cond:
            if ticket.left:
                return
            ticket.left = True
            if ticket.admitted:
                self._running -= 1
            else:
                try:
                    self._waiting.remove(ticket)
                except ValueError:
                    pass
            while self._running < self.capacity and self._waiting:
                nxt = self._waiting.popleft()
                nxt.admitted = True
                self._running += 1
            self._cond.notify_all()

    def stats(self) -> tuple[int, int]:
        """(running, waiting)."""
        with self._cond:
            return self._running, len(self._waiting)


_GATES: dict[tuple[int, int], LLMGate] = {}
_GATES_LOCK = threading.Lock()


def shared_gate(capacity: int, queue: int) -> LLMGate:
    """The process-wide gate for these limits (every app in the process shares the one model server)."""
    with _GATES_LOCK:
        return _GATES.setdefault((capacity, queue), LLMGate(capacity, queue))
