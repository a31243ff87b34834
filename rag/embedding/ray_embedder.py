"""Embedding on a Ray cluster: an `Embedder` whose `embed_passages` ships the texts through Ray Data
(`map_batches` over an actor pool, one model load per actor), so the index build itself is unchanged.

Questions (`embed_queries`) and token counts (chunking) stay local: they are small and must match exactly
what search uses. Each actor checks it loaded the same model (`model_id`) the driver records in the
manifest, so a cluster node with other weights fails the build instead of mixing vector spaces.

    from rag.embedding.ray_embedder import RayEmbedder
    s = Sanad(settings)
    s.build([Path("articles/")], embedder=RayEmbedder.for_settings(s.settings, s.embedder, workers=4))

Needs the `ray` extra (`pip install 'sanad[ray]'`); on a cluster every node also needs Sanad and its
model (`sanad models prepare`).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.embedding.embedders import Embedder
from rag.errors import ConfigError
from rag.settings import RAY_ADDRESS, Settings

LOCAL = "local"  # start a private Ray on this machine (no cluster needed)


def check_address(address: str) -> str:
    """`local`, `auto` (the cluster this machine joined), `ray://host:10001` or `host:6379`; else one line."""
    if not RAY_ADDRESS.fullmatch(address or ""):
        raise ConfigError(f"Ray address {address!r} is not 'local', 'auto', 'ray://host:port' or 'host:port'"
                          " (with --ray, put the files first: sanad index build FILES --ray [ADDRESS])")
    return address


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("embedding on Ray needs the ray extra: pip install 'sanad[ray]'") from None
    return ray


class EmbedActor:
    """One Ray Data actor: loads the embedding model once, then embeds the batches it is given."""

    def __init__(self, model: str, models_dir: str | None, model_id: str, threads: int) -> None:
        from rag.embedding.embedders import load_embedder
        from rag.settings import get_settings

        # models_dir None: this node's own SANAD_HOME (a cluster node need not mirror the driver's paths).
        folder = Path(models_dir) if models_dir else get_settings().models_dir
        self.embedder = load_embedder(model, folder)
        if self.embedder.model_id != model_id:
            raise ConfigError(f"Ray worker loaded {self.embedder.model_id}, the index needs {model_id}: "
                              "run `sanad models prepare` with the same Sanad version on every node")
        try:
            import torch

            torch.set_num_threads(threads)  # the embedder takes every core; an actor owns only its share
        except ImportError:  # pragma: no cover - the numpy USE embedder has no torch
            pass

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        return {"i": batch["i"], "vec": self.embedder.embed_passages(texts)}


@dataclass
class RayEmbedder:
    """`Embedder` for index builds: passages are embedded by `workers` Ray actors; everything else by `local`."""

    local: Embedder | Callable[[], Embedder]  # or a thunk: the local model loads only when first needed
    model: str  # what each actor loads: Settings.embed_model
    models_dir: Path | None  # None: each node's own; a local Ray uses the driver's
    address: str = LOCAL
    workers: int = 1
    cpus_per_worker: int = 1
    batch_size: int = 128  # rows per Ray batch (the actor's embedder sub-batches by 32)
    started: bool = field(default=False, init=False)  # whether this object started Ray (and so stops it)

    def __post_init__(self) -> None:
        check_address(self.address)
        if self.workers < 1 or self.cpus_per_worker < 1:
            raise ConfigError("Ray workers and CPUs per worker must be at least 1")

    @classmethod
    def for_settings(cls, settings: Settings, local: Embedder | Callable[[], Embedder], address: str | None = None,
                     workers: int | None = None, cpus_per_worker: int = 1) -> RayEmbedder:
        address = address or settings.ray_address or LOCAL
        return cls(local, settings.embed_model, settings.models_dir if address == LOCAL else None,
                   address, workers or settings.ray_workers, cpus_per_worker)

    @property
    def here(self) -> Embedder:
        """The local model (loaded on first use when given as a thunk)."""
        if callable(self.local):
            self.local = self.local()
        return self.local

    @property
    def model_id(self) -> str:
        return self.here.model_id

    @property
    def dim(self) -> int:
        return self.here.dim

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.here.embed_queries(texts)

    def count_tokens(self, text: str) -> int:
        return self.here.count_tokens(text)

    def embed_passages(self, texts: list[str], batch_size: int = 32, progress=None) -> np.ndarray:
        """Vectors for `texts`, in order: rows carry their position and are put back by it."""
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        ray = self.connect()
        from ray.data import ActorPoolStrategy, DataContext

        DataContext.get_current().enable_progress_bars = False  # the CLI shows its own bar
        # Batches small enough that every actor gets several (a few texts start no more actors than batches).
        rows_per_batch = max(8, min(self.batch_size, -(-len(texts) // (4 * self.workers))))
        blocks = -(-len(texts) // rows_per_batch)
        rows = ray.data.from_items([{"i": i, "text": t} for i, t in enumerate(texts)], override_num_blocks=blocks)
        vectors = rows.map_batches(
            EmbedActor, batch_size=rows_per_batch, batch_format="numpy", udf_modifying_row_count=False,
            compute=ActorPoolStrategy(size=min(self.workers, blocks)), num_cpus=self.cpus_per_worker,
            fn_constructor_kwargs={"model": self.model, "models_dir": str(self.models_dir) if self.models_dir else None,
                                   "model_id": self.model_id, "threads": self.cpus_per_worker})
        seen = 0
        try:
            for batch in vectors.iter_batches(batch_size=None, batch_format="numpy"):
                out[batch["i"]] = batch["vec"]
                seen += len(batch["i"])
                if progress:
                    progress(len(batch["i"]))
        except ray.exceptions.RayError as exc:
            raise ConfigError(f"embedding on Ray failed: {_cause(exc)}") from None
        if seen != len(texts):  # a lost or duplicated row would silently misplace vectors
            raise ConfigError(f"embedding on Ray returned {seen} vectors for {len(texts)} texts")
        return out

    def connect(self):
        """Ray, initialised: joins `address`, or starts a private local Ray sized for the workers."""
        ray = _ray()
        if not ray.is_initialized():
            quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
            if self.address == LOCAL:  # "local": always a new private instance, never a cluster found nearby
                ray.init(address="local", num_cpus=max(os.cpu_count() or 1, self.workers * self.cpus_per_worker),
                         include_dashboard=False, **quiet)
            else:
                try:
                    ray.init(address=self.address, **quiet)
                except (ConnectionError, RuntimeError, ValueError) as exc:
                    raise ConfigError(f"cannot reach the Ray cluster at {self.address}: {_cause(exc)}") from None
            self.started = True
        import ray.data  # configures its logger on import: quiet it after

        # Ray Data logs each dataset's start and end at INFO on the console; failures still raise here.
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        return ray

    def close(self) -> None:
        """Stop Ray if this object started it (a session someone else opened is left running)."""
        if self.started:
            _ray().shutdown()
            self.started = False


def _cause(exc: BaseException) -> str:
    """The last meaningful line of a (possibly remote) error: what a user can act on."""
    cause = getattr(exc, "cause", None) or exc
    lines = [ln.strip() for ln in str(cause).splitlines() if ln.strip()]
    return lines[-1] if lines else type(cause).__name__
