"""Per-prompt objective weights behind one interface: the adapter and the fixed-weight baselines.

Every provider has ``objectives`` (the K names, in column order) and ``weights(prompts) -> [N, K]``
(rows on the simplex).  The alignment stage switches between ``adapter | uniform | fixed | oracle``
with :func:`make_provider`.  What the adapter learns — the target weights ``softmax(z / tau)`` and the
z-scores behind them — lives in :mod:`.targets`.  Importing this package loads no ML library; the
adapter loads torch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from pro.errors import UserError

Mode = Literal["adapter", "uniform", "fixed", "oracle"]
MODES: tuple[str, ...] = ("adapter", "uniform", "fixed", "oracle")


@runtime_checkable
class WeightProvider(Protocol):
    """Anything that maps prompts to weights on the K-simplex."""

    @property
    def objectives(self) -> list[str]: ...

    def weights(self, prompts: Sequence[str]) -> np.ndarray: ...


def _check_objectives(objectives: Sequence[str]) -> list[str]:
    names = list(objectives)
    if not names:
        raise UserError("weights: at least one objective is needed")
    if len(set(names)) != len(names):
        raise UserError(f"weights: objectives must be distinct, got {', '.join(names)}")
    return names


class UniformWeights:
    """``1/K`` for every objective, whatever the prompt."""

    def __init__(self, objectives: Sequence[str]) -> None:
        self._objectives = _check_objectives(objectives)

    @property
    def objectives(self) -> list[str]:
        return list(self._objectives)

    def weights(self, prompts: Sequence[str]) -> np.ndarray:
        k = len(self._objectives)
        return np.full((len(prompts), k), 1.0 / k, dtype=np.float32)


class FixedWeights:
    """One user-given vector for every prompt (normalised to sum to 1)."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        self._objectives = _check_objectives(list(weights))
        vec = np.asarray([float(weights[o]) for o in self._objectives], dtype=np.float64)
        if np.any(vec < 0) or not np.all(np.isfinite(vec)) or vec.sum() <= 0:
            raise UserError(f"weights: fixed weights must be ≥ 0 with a positive sum, got {dict(weights)}")
        self.vector = (vec / vec.sum()).astype(np.float32)

    @property
    def objectives(self) -> list[str]:
        return list(self._objectives)

    def weights(self, prompts: Sequence[str]) -> np.ndarray:
        return np.tile(self.vector, (len(prompts), 1))


class OracleWeights:
    """Weights from a function of the prompt (the toy world's hidden truth: ``World.true_weights``)."""

    def __init__(
        self, objectives: Sequence[str], fn: Callable[[str], Mapping[str, float] | Sequence[float]]
    ) -> None:
        self._objectives = _check_objectives(objectives)
        self.fn = fn

    @property
    def objectives(self) -> list[str]:
        return list(self._objectives)

    def weights(self, prompts: Sequence[str]) -> np.ndarray:
        rows = []
        for p in prompts:
            w = self.fn(p)
            row = [float(w[o]) for o in self._objectives] if isinstance(w, Mapping) else [float(x) for x in w]
            total = sum(row)
            rows.append([x / total for x in row] if total > 0 else row)
        return np.asarray(rows, dtype=np.float32).reshape(len(prompts), len(self._objectives))


def prompt_key(prompt: str) -> str:
    """The cache key of a prompt."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


class AdapterWeights:
    """A trained adapter (artifact URI or local directory) with a prompt-hash cache.

    Each distinct prompt is encoded once per provider; with ``cache_file`` the cache also persists
    across runs (JSON lines ``{"key", "w"}``, only valid for this adapter: keyed by its manifest digest).
    """

    def __init__(self, uri: str, *, batch_size: int = 64, cache_file: str | Path | None = None) -> None:
        from pro.models.adapter import LoadedAdapter
        from pro.store import local_artifact

        self.adapter = LoadedAdapter.load(local_artifact(uri, "adapter.json"))
        self.uri = uri
        self.batch_size = batch_size
        self.cache: dict[str, np.ndarray] = {}
        self.encoded = 0  # prompts actually run through the model
        self.cache_file = Path(cache_file) if cache_file else None
        if self.cache_file and self.cache_file.exists():
            for line in self.cache_file.read_text().splitlines():
                row = json.loads(line)
                self.cache[row["key"]] = np.asarray(row["w"], dtype=np.float32)

    @property
    def objectives(self) -> list[str]:
        return list(self.adapter.objectives)

    @property
    def tau(self) -> float:
        return self.adapter.tau

    def weights(self, prompts: Sequence[str]) -> np.ndarray:
        keys = [prompt_key(p) for p in prompts]
        todo: dict[str, str] = {}
        for k, p in zip(keys, prompts, strict=True):
            if k not in self.cache and k not in todo:
                todo[k] = p
        if todo:
            new = self.adapter.weights(list(todo.values()), batch_size=self.batch_size)
            self.encoded += len(todo)
            for k, w in zip(todo, new, strict=True):
                self.cache[k] = w
            if self.cache_file is not None:
                self.cache_file.parent.mkdir(parents=True, exist_ok=True)
                with self.cache_file.open("a") as fh:
                    for k, w in zip(todo, new, strict=True):
                        fh.write(json.dumps({"key": k, "w": [float(x) for x in w]}) + "\n")
        k_obj = len(self.objectives)
        if not keys:
            return np.zeros((0, k_obj), dtype=np.float32)
        return np.stack([self.cache[k] for k in keys]).astype(np.float32)


def parse_fixed(text: str) -> dict[str, float]:
    """``"helpfulness=0.5,harmlessness=0.3,humor=0.2"`` → a mapping."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep:
            raise UserError(f"--fixed: expected name=value, got {part!r}")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise UserError(f"--fixed: {value!r} is not a number (in {part!r})") from None
    if not out:
        raise UserError("--fixed: no weights given")
    return out


def make_provider(
    mode: Mode | str,
    *,
    objectives: Sequence[str] | None = None,
    adapter: str | None = None,
    fixed: Mapping[str, float] | None = None,
    oracle: Callable[[str], Any] | None = None,
    **adapter_kwargs: Any,
) -> WeightProvider:
    """The provider for one of the alignment stage's weight modes."""
    if mode == "adapter":
        if not adapter:
            raise UserError("weights mode 'adapter' needs an adapter URI")
        return AdapterWeights(adapter, **adapter_kwargs)
    if mode == "uniform":
        if not objectives:
            raise UserError("weights mode 'uniform' needs the objectives")
        return UniformWeights(objectives)
    if mode == "fixed":
        if not fixed:
            raise UserError("weights mode 'fixed' needs a weight per objective")
        provider = FixedWeights(fixed)
        if objectives is not None and list(objectives) != provider.objectives:
            raise UserError(f"fixed weights name {provider.objectives}, expected {list(objectives)}")
        return provider
    if mode == "oracle":
        if oracle is None or not objectives:
            raise UserError("weights mode 'oracle' needs the objectives and a weight function")
        return OracleWeights(objectives, oracle)
    raise UserError(f"unknown weights mode {mode!r} (expected one of {', '.join(MODES)})")


__all__ = [
    "MODES",
    "AdapterWeights",
    "FixedWeights",
    "Mode",
    "OracleWeights",
    "UniformWeights",
    "WeightProvider",
    "make_provider",
    "parse_fixed",
    "prompt_key",
]
