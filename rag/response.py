"""`Response`: iterate it for the answer's text as it streams, then read `.answer` for the verified result.

    r = sanad.ask("من هو المبعوث الأممي إلى سوريا؟")
    for chunk in r:
        print(chunk, end="")
    r.answer.citations

Reading `.answer` first runs the whole stream. Consumers never see a bare generator nor check item types.
"""
from __future__ import annotations

from collections.abc import Iterator

from rag.errors import SanadError
from rag.types import Answer


class Response:
    def __init__(self, events: Iterator[str | Answer]) -> None:
        # `events` yields text chunks and ends with exactly one Answer (the pipeline's private contract)
        self._events = events
        self._answer: Answer | None = None
        self._chunks: list[str] = []
        self._started = False

    def __iter__(self) -> Iterator[str]:
        if self._started:
            raise RuntimeError("a Response can be iterated once; read .answer or .text afterwards")
        self._started = True
        for item in self._events:
            if isinstance(item, Answer):
                self._answer = item
                return
            if item:
                self._chunks.append(item)
                yield item
        raise SanadError("the answer ended without a result")

    @property
    def answer(self) -> Answer:
        if self._answer is None:
            if not self._started:
                for _ in self:
                    pass
            if self._answer is None:
                raise SanadError("the answer was not read to its end")
        return self._answer

    @property
    def streamed(self) -> str:
        """The text streamed so far."""
        return "".join(self._chunks)
