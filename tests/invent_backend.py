"""A test backend (registered like any plugin, settings.plugins="invent_backend") that writes free text the way a
small model can go wrong: a true sentence copied from the best passage, then an invented one (a name and figures
no source has), streamed a few characters at a time."""
from __future__ import annotations

from scripted_backend import ScriptedBackend

from rag.backends import Draft
from rag.ingest.chunking import sentence_spans

INVENTED = "Rex Tillerson signed it in Pyongyang on 3 March 1999 with 4000 troops [1]."


class InventingBackend(ScriptedBackend):
    name = "inventing"

    def generate(self, query, hits, res) -> Draft:
        p = hits[0].passage
        s, e = sentence_spans(p.text)[0]
        text = f"{p.text[s:e].rstrip(' .')} [1]. {INVENTED}"
        return Draft(hits, iter([text[i:i + 7] for i in range(0, len(text), 7)]))


def register_backends(register) -> None:
    register(InventingBackend())
