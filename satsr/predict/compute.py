"""Running batches of tiles through the model: in this process, or on a dask cluster.

Both paths call :func:`forward`, which fixes torch's thread count for the call: convolution
results can differ in the last bits between thread counts, and fixing it is what makes an
in-process run and a ``--scheduler`` run write the same bytes. Results are collected in
submission order so the output never depends on which worker finished first.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from satsr.models import SRModel

_THREADS_LOCK = threading.Lock()


def forward(model: SRModel, lr: np.ndarray, threads: int, device: str = "cpu") -> np.ndarray:
    """``model`` on ``lr`` (B, T, C, h, w) float32 with all-clear masks → (B, C, sh, sw)."""
    with _THREADS_LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            x = torch.from_numpy(lr).to(device)
            with torch.inference_mode():
                sr = model.to(device).eval()(x)
            return sr.float().cpu().numpy()
        finally:
            torch.set_num_threads(before)


Prepared = tuple[Any, np.ndarray]  # (caller's batch key, lr array)


def run_local(model: SRModel, batches: Iterable[Callable[[], Prepared]], *, threads: int,
              device: str) -> Iterator[tuple[Any, np.ndarray]]:
    """Forward each prepared batch here; the next batch is read and prepared on a helper
    thread meanwhile (input reading overlaps the network)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="satsr-read") as pool:
        pending: deque[Future[Prepared]] = deque()
        it = iter(batches)
        for prep in it:
            pending.append(pool.submit(prep))
            break
        while pending:
            key, lr = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(nxt))
            yield key, forward(model, lr, threads, device)


def model_recipe(model: SRModel) -> dict[str, Any]:
    """Plain data that rebuilds ``model`` in another process: registry name, hyper-parameters,
    tensors (numpy) and input normalisation. torch modules with weight-norm parametrisations
    and normalisation hooks do not survive pickling, this does."""
    return {"token": uuid.uuid4().hex, "name": model.model_name, "hparams": dict(model.hparams),
            "state": {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()},
            "normalisation": getattr(model, "satsr_normalisation", None)}


_BUILT: dict[str, SRModel] = {}


def build_from_recipe(recipe: dict[str, Any]) -> SRModel:
    """The model of ``recipe``, built once per process."""
    if recipe["token"] not in _BUILT:
        from satsr.models import create_model
        from satsr.models.weights import apply_normalisation

        model = create_model(recipe["name"], **recipe["hparams"])
        model.load_state_dict({k: torch.from_numpy(v) for k, v in recipe["state"].items()})
        apply_normalisation(model, recipe["normalisation"])
        _BUILT.clear()
        _BUILT[recipe["token"]] = model.eval()
    return _BUILT[recipe["token"]]


def forward_recipe(recipe: dict[str, Any], lr: np.ndarray, threads: int) -> np.ndarray:
    """:func:`forward` of the model rebuilt from ``recipe`` (a cluster task)."""
    return forward(build_from_recipe(recipe), lr, threads)


def run_distributed(client: Any, model: SRModel, batches: Iterable[Callable[[], Prepared]], *,
                    threads: int, tag: str, in_flight: int | None = None
                    ) -> Iterator[tuple[Any, np.ndarray]]:
    """Forward each batch as one task on the cluster (keys ``satsr-predict-<tag>-<n>``), at most
    ``in_flight`` at a time (default: twice the workers' threads), yielding in order."""
    remote = client.scatter(model_recipe(model), broadcast=True)
    if in_flight is None:
        in_flight = max(2, 2 * sum(client.nthreads().values()))
    pending: deque[tuple[Any, Any]] = deque()
    for n, prep in enumerate(batches):
        key, lr = prep()
        pending.append((key, client.submit(forward_recipe, remote, lr, threads,
                                           key=f"satsr-predict-{tag}-{n}", pure=False)))
        if len(pending) >= in_flight:
            k, fut = pending.popleft()
            yield k, fut.result()
    while pending:
        k, fut = pending.popleft()
        yield k, fut.result()
