"""Timing probe for ``bench/gpu.py``: loaded by every Python process that has this folder on PYTHONPATH
and ``PRO_GPU_PROBE`` set (a directory), so the stage commands run unchanged (``torchrun … -m pro stage …``)
and the bare TRL baseline is measured by the very same code.

When ``transformers.trainer`` is imported, ``Trainer.train`` is wrapped: a callback synchronises the GPU
and stamps the end of every optimizer step, and the wall time of the whole ``train`` is recorded with
the trainer's arguments, the model's parameter count, dtype and attention implementation.  When TRL's
GRPO/RLOO trainer is imported, generation (``_generate_single_turn``) and generation + scoring
(``_generate_and_score_completions``) are timed (synchronised) and the generated tokens counted.  At exit
each process that imported transformers writes ``$PRO_GPU_PROBE/<label>.rank<R>.<pid>.json`` with all of it and its peak GPU memory.

Not part of the product: nothing under ``pro/`` imports it.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.machinery
import json
import os
import sys
import time
from typing import Any

_DIR = os.environ.get("PRO_GPU_PROBE")
_RECORD: dict[str, Any] = {
    "label": os.environ.get("PRO_GPU_PROBE_LABEL", "run"),
    "rank": int(os.environ.get("RANK", "0")),
    "pid": os.getpid(),
    "trains": [],
    "generation": {"calls": 0, "seconds": 0.0, "completionTokens": 0, "promptTokens": 0, "perCall": []},
    "generateAndScore": {"calls": 0, "seconds": 0.0, "perCall": []},
}


def _sync() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _param_count(model: Any) -> int:
    return int(sum(getattr(p, "ds_numel", p.numel()) for p in model.parameters()))


def _args_summary(args: Any) -> dict[str, Any]:
    keys = ("bf16", "fp16", "tf32", "gradient_checkpointing", "per_device_train_batch_size",
            "gradient_accumulation_steps", "max_steps", "learning_rate", "optim", "dataloader_num_workers",
            "dataloader_pin_memory", "num_generations", "max_completion_length", "beta", "temperature",
            "steps_per_generation", "num_iterations", "max_length", "use_cpu", "seed")  # fmt: skip
    out = {k: getattr(args, k) for k in keys if hasattr(args, k)}
    out["deepspeed"] = bool(getattr(args, "deepspeed", None))
    return {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v)) for k, v in out.items()}


def _patch_trainer(module: Any) -> None:
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.stamps: list[float] = []

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            _sync()
            self.stamps.append(time.perf_counter())

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            _sync()
            self.stamps.append(time.perf_counter())

    original = module.Trainer.train

    def train(self: Any, *args: Any, **kwargs: Any) -> Any:
        clock = StepClock()
        self.add_callback(clock)
        entry: dict[str, Any] = {"trainer": type(self).__name__, "args": _args_summary(self.args)}
        model = self.model
        try:
            entry["params"] = _param_count(model)
            first = next(model.parameters())
            entry["paramDtype"] = str(first.dtype)
            entry["device"] = str(first.device)
            cfg = getattr(model, "config", None)
            entry["attnImplementation"] = getattr(cfg, "_attn_implementation", None)
        except Exception as err:  # the probe must never break the run
            entry["modelInfoError"] = repr(err)
        _RECORD["trains"].append(entry)
        _sync()
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            _sync()
            entry["seconds"] = time.perf_counter() - t0
            entry["stepSeconds"] = [b - a for a, b in zip(clock.stamps, clock.stamps[1:], strict=False)]
            entry["params"] = entry.get("params") or _param_count(self.model)
            entry["logHistory"] = [
                {k: v for k, v in row.items() if isinstance(v, (int, float))}
                for row in self.state.log_history
            ]

    module.Trainer.train = train


def _patch_rl(cls: Any) -> None:
    gen = cls._generate_single_turn
    gas = cls._generate_and_score_completions

    def _generate_single_turn(self: Any, prompt_ids: Any, *args: Any, **kwargs: Any) -> Any:
        _sync()
        t0 = time.perf_counter()
        out = gen(self, prompt_ids, *args, **kwargs)
        _sync()
        dt = time.perf_counter() - t0
        ids = out[0] if isinstance(out, tuple) else out
        g = _RECORD["generation"]
        g["calls"] += 1
        g["seconds"] += dt
        n = int(sum(len(x) for x in ids))
        m = int(sum(len(x) for x in prompt_ids))
        g["completionTokens"] += n
        g["promptTokens"] += m
        g["perCall"].append([round(dt, 4), n, m])
        return out

    def _generate_and_score_completions(self: Any, *args: Any, **kwargs: Any) -> Any:
        _sync()
        t0 = time.perf_counter()
        out = gas(self, *args, **kwargs)
        _sync()
        dt = time.perf_counter() - t0
        g = _RECORD["generateAndScore"]
        g["calls"] += 1
        g["seconds"] += dt
        g["perCall"].append(round(dt, 4))
        return out

    cls._generate_single_turn = _generate_single_turn
    cls._generate_and_score_completions = _generate_and_score_completions


_PATCHES = {
    "transformers.trainer": _patch_trainer,
    "trl.trainer.grpo_trainer": lambda m: _patch_rl(m.GRPOTrainer),
    "trl.trainer.rloo_trainer": lambda m: _patch_rl(m.RLOOTrainer),
}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Applies a patch right after its module has been executed."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in _PATCHES:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            spec = getattr(finder, "find_spec", lambda *a: None)(name, path, target)
            if spec is not None and spec.loader is not None:
                loader = spec.loader
                exec_module = loader.exec_module

                def patched(module: Any, _exec: Any = exec_module, _name: str = name) -> None:
                    _exec(module)
                    try:
                        _PATCHES[_name](module)
                    except Exception as err:
                        _RECORD.setdefault("patchErrors", []).append(f"{_name}: {err!r}")

                loader.exec_module = patched  # type: ignore[method-assign]
                return spec
        return None


def _dump() -> None:
    if "transformers" not in sys.modules:  # e.g. torchrun's launcher: nothing to report
        return
    _RECORD["argv"] = list(sys.argv)
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        _RECORD["cuda"] = {
            "device": torch.cuda.get_device_name(),
            "maxAllocatedGiB": round(torch.cuda.max_memory_allocated() / 2**30, 3),
            "maxReservedGiB": round(torch.cuda.max_memory_reserved() / 2**30, 3),
        }
    assert _DIR is not None
    path = os.path.join(_DIR, f"{_RECORD['label']}.rank{_RECORD['rank']}.{_RECORD['pid']}.json")
    with open(path, "w") as fh:
        json.dump(_RECORD, fh)


def _chain() -> None:
    """Run the ``sitecustomize`` this one shadows, if the environment has one."""
    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        path = os.path.join(os.path.abspath(entry or "."), "sitecustomize.py")
        if os.path.dirname(path) != here and os.path.isfile(path):
            import runpy

            runpy.run_path(path, run_name="sitecustomize")
            return


_chain()
if _DIR:
    os.makedirs(_DIR, exist_ok=True)
    sys.meta_path.insert(0, _AfterImport())
    atexit.register(_dump)
