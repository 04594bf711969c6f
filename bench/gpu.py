"""Every stage on a GPU, measured against a baseline in the same run (issue #19).

    bash bench/gpu.sh                        # on the GPU machine: installs the carried wheels, then:
    python -m bench.gpu --out DIR            # (-m from the repository root: bench/operator.py would
    python -m bench.gpu --tiny --out DIR     #  shadow the stdlib's operator) the same code on the CPU

Models are config-built with random weights and saved with ``save_pretrained`` (bf16, like hub
checkpoints); the stage specs name them by path.  GPU shapes: a Qwen2-0.5B-shaped policy and reward
backbone (hidden 896, 24 layers, 14/2 heads, intermediate 4864, a 151,936-word tokenizer built locally
so the vocabulary, embedding and LM head are Qwen2's size), an XLM-R-base-shaped adapter encoder.

Phases (each time-boxed; a failure is recorded and the run goes on):

1. ``env``: versions, the GPU, a bf16 GEMM's rate (the MFU ceiling measured in this run);
2. ``prepare``: synthetic data, the tokenizer, the models;
3. ``reward-bare``: a plain PyTorch Bradley–Terry loop, same model, data, batch and precision: the
   baseline for the reward stage's samples/s and MFU;
4. ``reward``: three ``pro stage reward`` runs through ``torchrun`` (the pod's command), one per
   objective: plain, DeepSpeed ZeRO-2, ZeRO-3 (all three feed the adapter);
5. ``adapter``: ``pro stage adapter``; ``adapter-infer``: its artifact's weights batched vs one prompt at
   a time;
6. ``align``: ``pro stage align`` (PRO-MORLHF, GRPO);
7. ``eval``: ``pro stage eval``, the aligned policy vs the starting one, judged by a reward model;
8. ``align-bare``: a bare TRL GRPO script with the same policy, data, combined reward and settings as
   ``align`` (``bench/gpu_bare_grpo.py``), timed alike.

Every stage commits to a ``file://`` store.  Stage processes are timed by ``bench/gpu_probe`` (on
PYTHONPATH, so the commands run unchanged): optimizer-step times, generation time and tokens, peak GPU
memory.  Output: a compact table last on stdout; ``gpu.json`` (everything), ``table.md``, ``run.log`` and
``stages.log`` under ``--out``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PROBE_DIR = Path(__file__).resolve().parent / "gpu_probe"
OBJECTIVES = ["helpfulness", "harmlessness", "humor"]
CATEGORIES = ["howto", "risky", "jokes", "advice"]
#: how each reward model is trained: the first plain, then ZeRO-2, then ZeRO-3 (all feed the adapter)
RM_RUNS = [("helpfulness", None), ("harmlessness", 2), ("humor", 3)]
PEAK_BF16_TFLOPS = 790.0  # H200, bf16 dense, measured on this workplace's machines (KINDS.md)


@dataclass(frozen=True)
class Shapes:
    """Sizes of one mode (GPU or tiny CPU)."""

    vocab_words: int  # tokenizer = 5 special tokens + this many words; the policy's vocabulary
    policy: dict[str, Any]
    encoder: dict[str, Any]
    rm_pairs: int
    rm_steps: int
    rm_batch: int
    rm_prompt_words: tuple[int, int]
    rm_response_words: tuple[int, int]
    rm_max_length: int
    adapter_rows: int
    adapter_steps: int
    adapter_batch: int
    adapter_max_length: int
    infer_prompts: int
    infer_one_by_one: int
    align_prompts: int
    align_prompt_words: tuple[int, int]
    align_steps: int
    align_batch: int
    num_generations: int
    max_new_tokens: int
    eval_prompts: int
    eval_new_tokens: int
    gemm: int
    threads: int | None
    budget_s: float
    stage_timeout_s: float


GPU = Shapes(
    vocab_words=151_936 - 5,
    policy={"modelType": "qwen2", "hiddenSize": 896, "numHiddenLayers": 24, "numAttentionHeads": 14,
            "numKeyValueHeads": 2, "intermediateSize": 4864, "maxPositionEmbeddings": 4096,
            "ropeTheta": 1_000_000.0, "rmsNormEps": 1e-6, "tieWordEmbeddings": True},
    encoder={"modelType": "xlm-roberta", "vocabSize": 250_002, "hiddenSize": 768, "numHiddenLayers": 12,
             "numAttentionHeads": 12, "intermediateSize": 3072, "maxPositionEmbeddings": 514,
             "typeVocabSize": 1, "layerNormEps": 1e-5},
    rm_pairs=512, rm_steps=30, rm_batch=16, rm_prompt_words=(40, 56), rm_response_words=(360, 420),
    rm_max_length=512,
    adapter_rows=512, adapter_steps=40, adapter_batch=32, adapter_max_length=128,
    infer_prompts=1024, infer_one_by_one=256,
    align_prompts=96, align_prompt_words=(24, 40), align_steps=6, align_batch=32, num_generations=4,
    max_new_tokens=128,
    eval_prompts=64, eval_new_tokens=64,
    gemm=8192, threads=None, budget_s=420.0, stage_timeout_s=170.0,
)  # fmt: skip

TINY = Shapes(
    vocab_words=600,
    policy={"modelType": "qwen2", "hiddenSize": 32, "numHiddenLayers": 2, "numAttentionHeads": 4,
            "numKeyValueHeads": 2, "intermediateSize": 64, "maxPositionEmbeddings": 512,
            "tieWordEmbeddings": True},
    encoder={"modelType": "xlm-roberta", "vocabSize": 1000, "hiddenSize": 32, "numHiddenLayers": 2,
             "numAttentionHeads": 4, "intermediateSize": 64, "maxPositionEmbeddings": 130,
             "typeVocabSize": 1},
    rm_pairs=64, rm_steps=4, rm_batch=4, rm_prompt_words=(6, 10), rm_response_words=(12, 20),
    rm_max_length=64,
    adapter_rows=64, adapter_steps=4, adapter_batch=8, adapter_max_length=32,
    infer_prompts=64, infer_one_by_one=16,
    align_prompts=16, align_prompt_words=(4, 8), align_steps=3, align_batch=8, num_generations=4,
    max_new_tokens=8,
    eval_prompts=8, eval_new_tokens=8,
    gemm=512, threads=2, budget_s=900.0, stage_timeout_s=300.0,
)  # fmt: skip


# ----------------------------------------------------------------------------------------- logging


class Log:
    """Timestamped progress lines on stdout and in ``run.log``."""

    def __init__(self, path: Path) -> None:
        self.t0 = time.monotonic()
        self.fh = path.open("a")

    def __call__(self, msg: str) -> None:
        line = f"[{dt.datetime.now().strftime('%H:%M:%S')} +{time.monotonic() - self.t0:6.1f}s] {msg}"
        print(line, flush=True)
        self.fh.write(line + "\n")
        self.fh.flush()

    def elapsed(self) -> float:
        return time.monotonic() - self.t0


@dataclass
class Phase:
    name: str
    status: str = "skipped"
    seconds: float = 0.0
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)


class Bench:
    """The run's state: where things are, what each phase found, and the time left."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.tiny: bool = args.tiny
        self.shapes = TINY if args.tiny else GPU
        self.budget = args.budget_s or self.shapes.budget_s
        self.out: Path = args.out
        self.out.mkdir(parents=True, exist_ok=True)
        self.work: Path = args.work or (self.out / "work" if args.tiny else Path("/tmp/pro-gpu-bench"))
        self.work.mkdir(parents=True, exist_ok=True)
        self.log = Log(self.out / "run.log")
        self.stages_log = (self.out / "stages.log").open("a")
        self.phases: dict[str, Phase] = {}
        self.facts: dict[str, Any] = {"mode": "tiny" if self.tiny else "gpu"}
        self.store = self.work / "store"
        self.probe = self.work / "probe"
        self.specs = self.work / "specs"
        for d in (self.store, self.probe, self.specs):
            d.mkdir(parents=True, exist_ok=True)
        self.only: set[str] | None = set(args.only.split(",")) if args.only else None

    def uri(self, name: str) -> str:
        return f"file://{self.store / name}"

    def committed(self, name: str) -> bool:
        return (self.store / name / "manifest.json").exists()

    def left(self) -> float:
        return self.budget - self.log.elapsed()

    def run_phase(self, name: str, needs_s: float, body: Callable[[Bench, Phase], None]) -> Phase:
        """Run ``body`` fail-soft: skipped when less than ``needs_s`` is left, an error recorded as one line
        (the traceback goes to stages.log) and the run goes on."""
        ph = self.phases.setdefault(name, Phase(name))
        if self.only is not None and name not in self.only:
            ph.error = "not selected (--only)"
            return ph
        if self.left() < needs_s:
            ph.error = f"{self.left():.0f} s left, needs ~{needs_s:.0f} s"
            self.log(f"== {name}: SKIPPED ({ph.error})")
            return ph
        self.log(f"== {name}")
        t0 = time.monotonic()
        try:
            body(self, ph)
            ph.status = "ok"
        except Exception as err:
            ph.status = "error"
            ph.error = f"{type(err).__name__}: {err}".splitlines()[0][:300]
            self.log(f"!! {name} failed: {ph.error}")
            self.stages_log.write(f"\n===== {name}: traceback\n{traceback.format_exc()}\n")
            self.stages_log.flush()
        ph.seconds = round(time.monotonic() - t0, 1)
        self.log(f"== {name}: {ph.status} in {ph.seconds} s")
        return ph

    def reward_models(self) -> list[str]:
        """The objectives whose reward model was committed (at least one, or the stage cannot run)."""
        found = [o for o in OBJECTIVES if self.committed(f"rm-{o}")]
        if not found:
            raise RuntimeError("no reward model was committed")
        return found

    # ------------------------------------------------------------------------------- stages

    def env(self, label: str) -> dict[str, str]:
        pythonpath = [str(PROBE_DIR), os.environ.get("PYTHONPATH", ""), str(ROOT), str(ROOT / "operator")]
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in pythonpath if p),
            "PRO_GPU_PROBE": str(self.probe),
            "PRO_GPU_PROBE_LABEL": label,
            "PYTHONUNBUFFERED": "1",
        }

    def run_stage(self, label: str, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """The stage resource ``kind``/``name`` with ``spec`` written to a file and run by the pod's command
        (``torchrun --standalone --nproc-per-node=1 -m pro stage VERB --spec F``); its artifact must be
        committed at ``spec["output"]``."""
        from pro.runner.process import torchrun_command

        path = self.specs / f"{label}.yaml"
        doc = {
            "apiVersion": "pro.alignment.dev/v1alpha1",
            "kind": kind,
            "metadata": {"name": name},
            "spec": spec,
        }
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        run = self.run_process(label, torchrun_command(kind, path, 1))
        if not (Path(spec["output"].removeprefix("file://")) / "manifest.json").exists():
            raise RuntimeError(f"{label}: exit 0 but no artifact committed at {spec['output']}")
        return run

    def run_process(self, label: str, cmd: list[str]) -> dict[str, Any]:
        timeout = max(10.0, min(self.shapes.stage_timeout_s, self.left() - 15))
        self.log(
            f"   $ {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))}  (timeout {timeout:.0f} s)"
        )
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env(label), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, text=True,
        )  # fmt: skip
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            self._keep_log(label, output)
            raise TimeoutError(f"{label}: no result after {timeout:.0f} s") from None
        wall = time.monotonic() - t0
        self._keep_log(label, output)
        lines = output.splitlines()
        if proc.returncode != 0:
            last = next((ln for ln in reversed(lines) if ln.strip() and not ln.startswith(" ")), "?")
            raise RuntimeError(f"{label}: exit {proc.returncode}: {last.strip()[:240]}")
        result = next((json.loads(ln) for ln in reversed(lines) if ln.startswith("{")), {})
        probe = self.probe_record(label)
        self.log(f"   {label}: exit 0 in {wall:.1f} s")
        return {"wallSeconds": round(wall, 1), "result": result, "probe": probe}

    def _keep_log(self, label: str, output: str) -> None:
        tail = output[-60_000:]
        self.stages_log.write(f"\n===== {label} ({len(output)} chars, last {len(tail)})\n{tail}\n")
        self.stages_log.flush()

    def probe_record(self, label: str) -> dict[str, Any]:
        """Rank 0's probe record of the last process run under ``label``."""
        found = sorted(self.probe.glob(f"{label}.rank0.*.json"), key=lambda p: p.stat().st_mtime)
        return json.loads(found[-1].read_text()) if found else {}


# ------------------------------------------------------------------------------------ measurements


def steady(values: list[float], skip: int = 1) -> list[float]:
    """The values after the first ``skip`` (warm-up), or all when there are too few."""
    return values[skip:] if len(values) > skip + 1 else values


def train_entry(probe: dict[str, Any]) -> dict[str, Any]:
    trains = probe.get("trains") or []
    return trains[-1] if trains else {}


def trainer_rates(
    probe: dict[str, Any], samples_per_step: int, tokens_per_sample: float, peak: float | None
) -> dict[str, Any]:
    """Samples/s, tokens/s and MFU of a probe's training run (median optimizer step after warm-up)."""
    entry = train_entry(probe)
    steps = entry.get("stepSeconds") or []
    if not steps:
        return {}
    step = statistics.median(steady(steps, 2))
    params = int(entry.get("params") or 0)
    return rates(step, samples_per_step, tokens_per_sample, params, peak) | {
        "paramDtype": entry.get("paramDtype"),
        "attn": entry.get("attnImplementation"),
        "args": entry.get("args"),
        "peakGiB": (probe.get("cuda") or {}).get("maxAllocatedGiB"),
    }


def rates(
    step_s: float, samples: int, tokens_per_sample: float, params: int, peak: float | None
) -> dict[str, Any]:
    tokens_s = samples * tokens_per_sample / step_s
    out: dict[str, Any] = {
        "stepSeconds": round(step_s, 4),
        "samplesPerSec": round(samples / step_s, 2),
        "tokensPerSec": round(tokens_s, 1),
        "params": params,
    }
    if peak:
        out["mfu"] = round(6 * params * tokens_s / (peak * 1e12), 4)
    return out


def rl_rates(probe: dict[str, Any]) -> dict[str, Any]:
    """Generation, training and end-to-end tokens/s of a GRPO run, steps after the first."""
    entry = train_entry(probe)
    steps = entry.get("stepSeconds") or []
    gen = (probe.get("generation") or {}).get("perCall") or []
    gas = (probe.get("generateAndScore") or {}).get("perCall") or []
    n = min(len(steps), len(gen), len(gas))
    if n == 0:
        return {"error": "no steps recorded"}
    idx = list(range(1, n)) if n > 2 else list(range(n))
    completion = sum(gen[i][1] for i in idx)
    tokens = sum(gen[i][1] + gen[i][2] for i in idx)
    gen_s = sum(gen[i][0] for i in idx)
    gas_s = sum(gas[i] for i in idx)
    step_s = sum(steps[i] for i in idx)
    return {
        "steps": n,
        "measuredSteps": len(idx),
        "genTokensPerSec": round(completion / gen_s, 1),
        "trainTokensPerSec": round(tokens / max(1e-9, step_s - gas_s), 1),
        "e2eTokensPerSec": round(tokens / step_s, 1),
        "stepSeconds": round(step_s / len(idx), 3),
        "genSeconds": round(gen_s / len(idx), 3),
        "scoreSeconds": round((gas_s - gen_s) / len(idx), 3),
        "optimSeconds": round((step_s - gas_s) / len(idx), 3),
        "completionTokensPerStep": round(completion / len(idx), 1),
        "params": entry.get("params"),
        "paramDtype": entry.get("paramDtype"),
        "attn": entry.get("attnImplementation"),
        "args": entry.get("args"),
        "peakGiB": (probe.get("cuda") or {}).get("maxAllocatedGiB"),
    }


# ---------------------------------------------------------------------------------------- phases


def env_phase(b: Bench, ph: Phase) -> None:
    """Versions, the device, and a GEMM's rate (the ceiling measured in this run)."""
    import torch

    versions = {"python": platform.python_version()}
    for name in ("torch", "transformers", "trl", "accelerate", "peft", "datasets", "deepspeed", "pydantic",
                 "tokenizers", "safetensors", "numpy", "pyarrow", "huggingface_hub"):  # fmt: skip
        try:
            versions[name] = str(getattr(__import__(name), "__version__", "?"))
        except Exception as err:
            versions[name] = f"MISSING ({type(err).__name__}: {str(err)[:80]})"
    cuda = torch.cuda.is_available()
    ph.result |= {"versions": versions, "cuda": cuda}
    if cuda:
        props = torch.cuda.get_device_properties(0)
        ph.result["device"] = (
            f"{props.name}, {props.total_memory / 2**30:.0f} GiB, sm_{props.major}{props.minor}"
        )
        ph.result["cudaVersion"] = torch.version.cuda
        ph.result["bf16"] = torch.cuda.is_bf16_supported(including_emulation=False)
    else:
        ph.result["device"] = f"CPU ({os.cpu_count()} cores)"
    b.log(f"   {ph.result['device']}; " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    missing = [k for k, v in versions.items() if v.startswith("MISSING")]
    if missing:  # every stage needs them: stop here instead of spending device time on failures
        b.budget = 0.0
        raise RuntimeError(f"cannot import {', '.join(missing)}: every later phase skipped")
    ph.result["gemmTflops"] = gemm_rate(b.shapes.gemm)
    b.facts["gemmDtype"] = "bf16" if cuda else "fp32"
    b.log(f"   GEMM {b.shapes.gemm}³ {b.facts['gemmDtype']}: {ph.result['gemmTflops']} TFLOP/s")
    b.facts["peakTflops"] = PEAK_BF16_TFLOPS if cuda else ph.result["gemmTflops"]
    b.facts["measuredPeakTflops"] = ph.result["gemmTflops"]


def gemm_rate(n: int) -> float:
    """TFLOP/s of an n×n×n matrix product on random data (bf16 on the GPU, fp32 on the CPU)."""
    import torch

    cuda = torch.cuda.is_available()
    dev, dtype = ("cuda", torch.bfloat16) if cuda else ("cpu", torch.float32)
    a = torch.randn(n, n, device=dev, dtype=dtype)
    c = torch.randn(n, n, device=dev, dtype=dtype)
    reps = 20 if cuda else 3
    for _ in range(3):
        a @ c
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ c
    if cuda:
        torch.cuda.synchronize()
    secs = (time.perf_counter() - t0) / reps
    del a, c
    return round(2 * n**3 / secs / 1e12, 3 if not cuda else 1)


def words(rng: random.Random, lo_hi: tuple[int, int], vocab: list[str]) -> str:
    return " ".join(rng.choice(vocab) for _ in range(rng.randint(*lo_hi)))


def prepare_phase(b: Bench, ph: Phase) -> None:
    """Synthetic data (pairs per objective, the mixed set, prompts), the tokenizer and the models."""
    s = b.shapes
    data = b.work / "data"
    data.mkdir(exist_ok=True)
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(s.vocab_words - len(OBJECTIVES))] + [f"good{o}" for o in OBJECTIVES]
    common = vocab[: min(len(vocab), 5000)]  # texts draw from the frequent words

    def response(obj: str, good: bool) -> str:
        text = words(rng, s.rm_response_words, common).split()
        if good:  # a learnable signal: the chosen response mentions its objective
            for _ in range(max(1, len(text) // 20)):
                text.insert(rng.randrange(len(text)), f"good{obj}")
        return " ".join(text)

    def pairs(obj: str, n: int) -> list[dict[str, Any]]:
        return [
            {"prompt": words(rng, s.rm_prompt_words, common), "chosen": response(obj, True),
             "rejected": response(obj, False), "objective": obj, "category": rng.choice(CATEGORIES)}
            for _ in range(n)
        ]  # fmt: skip

    def prompts(n: int) -> list[dict[str, Any]]:
        return [
            {"prompt": words(rng, s.align_prompt_words, common), "category": rng.choice(CATEGORIES)}
            for _ in range(n)
        ]

    def write(name: str, rows: list[dict[str, Any]]) -> None:
        (data / name).write_text("".join(json.dumps(r) + "\n" for r in rows))

    for obj in OBJECTIVES:
        write(f"{obj}.jsonl", pairs(obj, s.rm_pairs))
    mixed = [row for obj in OBJECTIVES for row in pairs(obj, s.adapter_rows // len(OBJECTIVES))]
    for row in mixed:
        row["prompt"] = words(rng, (s.adapter_max_length // 3, s.adapter_max_length // 2), common)
    write("mixed.jsonl", mixed)
    write("prompts.jsonl", prompts(s.align_prompts))
    write("heldout.jsonl", prompts(s.eval_prompts))
    ph.result |= build_models(b, vocab, data)
    b.log(f"   policy {ph.result['policyParams'] / 1e6:.1f} M params, encoder {ph.result['encoderParams'] / 1e6:.1f} M, "
          f"tokenizer {ph.result['tokenizerSize']} tokens; {ph.result['rmTokensPerPair']:.0f} tokens per RM pair")  # fmt: skip


def build_models(b: Bench, vocab: list[str], data: Path) -> dict[str, Any]:
    """The tokenizer (built locally, as the stages build theirs) and the two random-weight models."""
    import torch

    from pro.models.backbone import config_kwargs
    from pro.models.reward import join_text, separator
    from pro.models.tokenizers import build_tokenizer
    from pro.spec.model import TokenizerBuild

    s = b.shapes
    texts = [json.loads(ln)["chosen"] for ln in (data / "helpfulness.jsonl").read_text().splitlines()[:8]]
    tok = build_tokenizer([*texts, " ".join(vocab)], TokenizerBuild(kind="wordlevel", vocab_size=s.vocab_words + 5),
                          max_length=1024)  # fmt: skip
    if len(tok) != s.vocab_words + 5:
        raise RuntimeError(f"tokenizer has {len(tok)} tokens, expected {s.vocab_words + 5}")
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    device = "cuda" if torch.cuda.is_available() else "cpu"
    ids = {
        "pad_token_id": tok.pad_token_id,
        "bos_token_id": tok.cls_token_id,
        "eos_token_id": tok.eos_token_id,
    }
    model_type, kwargs = config_kwargs(s.policy)
    cfg = AutoConfig.for_model(model_type, **{**kwargs, "vocab_size": len(tok), **ids})
    with torch.device(device):
        policy = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    policy.generation_config.eos_token_id = tok.eos_token_id
    policy.generation_config.pad_token_id = tok.pad_token_id
    policy.save_pretrained(b.work / "models" / "policy")
    tok.save_pretrained(b.work / "models" / "policy")
    policy_params = sum(p.numel() for p in policy.parameters())
    del policy
    model_type, kwargs = config_kwargs(s.encoder)
    cfg = AutoConfig.for_model(model_type, **{**kwargs, "pad_token_id": tok.pad_token_id})
    with torch.device(device):
        encoder = AutoModel.from_config(cfg, dtype=torch.bfloat16)
    encoder.save_pretrained(b.work / "models" / "encoder")
    tok.save_pretrained(b.work / "models" / "encoder")
    encoder_params = sum(p.numel() for p in encoder.parameters())
    del encoder
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    # tokens per reward pair as the stage shows them: prompt + separator + response + EOS, chosen and rejected
    sep, eos = separator(tok), tok.eos_token or ""
    rows = [json.loads(ln) for ln in (data / "helpfulness.jsonl").read_text().splitlines()]
    lengths = [
        min(s.rm_max_length, len(tok(join_text(r["prompt"], r[k], sep) + eos)["input_ids"]))
        for r in rows for k in ("chosen", "rejected")
    ]  # fmt: skip
    b.facts["rmTokensPerPair"] = 2 * sum(lengths) / len(lengths)
    b.facts["rmLongest"] = max(lengths)
    mixed = [json.loads(ln)["prompt"] for ln in (data / "mixed.jsonl").read_text().splitlines()]
    b.facts["adapterTokensPerPrompt"] = sum(
        min(s.adapter_max_length, len(tok(p)["input_ids"])) for p in mixed
    ) / len(mixed)
    return {
        "policyParams": policy_params,
        "encoderParams": encoder_params,
        "tokenizerSize": len(tok),
        "rmTokensPerPair": b.facts["rmTokensPerPair"],
        "rmLongest": max(lengths),
    }


def reward_bare_phase(b: Bench, ph: Phase) -> None:
    """A plain PyTorch Bradley–Terry loop on the same backbone, data, batch and precision as the stage
    (fp32 weights, bf16 autocast, fused AdamW, gradient checkpointing as TRL's default): the baseline."""
    ph.result |= reward_loop(b)
    b.log(
        f"   bare loop: {ph.result['samplesPerSec']} pairs/s, MFU {ph.result.get('mfu')}, peak {ph.result.get('peakGiB')} GiB"
    )


def reward_loop(b: Bench) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from pro.models.device import TRAINING_DTYPE, accelerator, autocast, enable_tf32
    from pro.models.reward import join_text, separator

    s = b.shapes
    device = accelerator()
    enable_tf32()  # as the stage's setup does
    path = b.work / "models" / "policy"
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=TRAINING_DTYPE).to(
        device
    )
    model.config.pad_token_id = tok.pad_token_id
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    fused = device.type == "cuda"
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=fused)
    rows = [json.loads(ln) for ln in (b.work / "data" / "helpfulness.jsonl").read_text().splitlines()]
    sep, eos = separator(tok), tok.eos_token or ""
    tok.padding_side = "right"
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    stamps = []
    for step in range(s.rm_steps):
        batch = [rows[(step * s.rm_batch + i) % len(rows)] for i in range(s.rm_batch)]
        texts = [join_text(r["prompt"], r[k], sep) + eos for k in ("chosen", "rejected") for r in batch]
        enc = tok(texts, truncation=True, max_length=s.rm_max_length, padding=True, return_tensors="pt").to(
            device
        )
        with autocast(device):
            scores = model(**enc).logits[:, 0].float()
        chosen, rejected = scores[: s.rm_batch], scores[s.rm_batch :]
        loss = -F.logsigmoid(chosen - rejected).mean() + 0.01 * ((chosen + rejected) ** 2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())
    steps = [b2 - a for a, b2 in itertools.pairwise(stamps)]
    params = sum(p.numel() for p in model.parameters())
    out = rates(
        statistics.median(steady(steps, 1)),
        s.rm_batch,
        b.facts["rmTokensPerPair"],
        params,
        b.facts.get("peakTflops"),
    )
    if device.type == "cuda":
        out["peakGiB"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    out["paramDtype"] = str(next(model.parameters()).dtype)
    out["attn"] = model.config._attn_implementation
    out["args"] = {"bf16": device.type == "cuda", "gradient_checkpointing": True,
                   "optim": "torch AdamW" + (" fused" if fused else ""), "dataloader_num_workers": None}  # fmt: skip
    del model, opt
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return out


def threads(b: Bench) -> dict[str, Any]:
    return {"threads": b.shapes.threads} if b.shapes.threads else {}


def reward_phase(objective: str, zero: int | None) -> Callable[[Bench, Phase], None]:
    """``pro stage reward`` for one objective (plain, or under DeepSpeed ZeRO ``zero``)."""

    def body(b: Bench, ph: Phase) -> None:
        s = b.shapes
        spec: dict[str, Any] = {
            "objective": objective,
            "data": {"format": "jsonl", "path": str(b.work / "data" / f"{objective}.jsonl")},
            "model": {"name": str(b.work / "models" / "policy")},
            "training": {"maxSteps": s.rm_steps, "learningRate": 1e-5, "perDeviceBatchSize": s.rm_batch,
                         "maxLength": s.rm_max_length, "evalBatchSize": 32, "seed": 0, **threads(b)},
            "output": b.uri(f"rm-{objective}"),
        }  # fmt: skip
        if zero is not None:
            spec["deepspeed"] = {"stage": zero}
        run = b.run_stage(ph.name, "RewardModelTraining", f"rm-{objective}", spec)
        probe = run["probe"]
        ph.result |= {
            "objective": objective,
            "zero": zero,
            "wallSeconds": run["wallSeconds"],
            "stageSeconds": run["result"].get("seconds"),
            "heldoutAccuracy": run["result"].get("heldoutAccuracy"),
            **trainer_rates(
                probe, s.rm_batch, b.facts.get("rmTokensPerPair", 0.0), b.facts.get("peakTflops")
            ),
        }
        b.log(f"   {ph.name}: {ph.result.get('samplesPerSec')} pairs/s, MFU {ph.result.get('mfu')}, "
              f"peak {ph.result.get('peakGiB')} GiB, stage {ph.result['wallSeconds']} s")  # fmt: skip

    return body


def adapter_phase(zero: int | None = None) -> Callable[[Bench, Phase], None]:
    """``pro stage adapter`` on the committed reward models (under ZeRO ``zero``: a second artifact)."""
    return lambda b, ph: adapter_run(b, ph, zero)


def adapter_run(b: Bench, ph: Phase, zero: int | None) -> None:
    s = b.shapes
    objectives = b.reward_models()
    name = "adapter" if zero is None else f"adapter-zero{zero}"
    spec = {
        "objectives": objectives,
        "rewardModels": {o: b.uri(f"rm-{o}") for o in objectives},
        "data": {"format": "jsonl", "path": str(b.work / "data" / "mixed.jsonl")},
        "tau": 0.1,
        "model": {"name": str(b.work / "models" / "encoder")},
        "training": {"maxSteps": s.adapter_steps, "learningRate": 2e-5, "perDeviceBatchSize": s.adapter_batch,
                     "maxLength": s.adapter_max_length, "evalBatchSize": 64, "seed": 0, **threads(b)},
        "output": b.uri(name),
        **({"deepspeed": {"stage": zero}} if zero is not None else {}),
    }  # fmt: skip
    run = b.run_stage(ph.name, "AdapterTraining", name, spec)
    tokens = b.facts.get("adapterTokensPerPrompt", 0.0)
    ph.result |= {
        "objectives": objectives,
        "wallSeconds": run["wallSeconds"],
        "stageSeconds": run["result"].get("seconds"),
        "targetsSeconds": run["result"].get("targetsSeconds"),
        "heldoutArgmaxAgreement": run["result"].get("heldoutArgmaxAgreement"),
        **trainer_rates(run["probe"], s.adapter_batch, tokens, b.facts.get("peakTflops")),
    }
    b.log(f"   {name}: {ph.result.get('samplesPerSec')} prompts/s training, peak {ph.result.get('peakGiB')} GiB, "
          f"stage {ph.result['wallSeconds']} s (targets {ph.result['targetsSeconds']} s)")  # fmt: skip


def adapter_infer_phase(b: Bench, ph: Phase) -> None:
    ph.result |= adapter_inference(b)
    b.log(f"   adapter inference: batched {ph.result['batchedPerSec']} prompts/s, one at a time "
          f"{ph.result['oneByOnePerSec']} prompts/s: {ph.result['ratio']}×")  # fmt: skip


def adapter_inference(b: Bench) -> dict[str, Any]:
    """The adapter artifact's weights, batched and length-bucketed vs one prompt at a time (same model)."""
    import numpy as np
    import torch

    from pro.weights import AdapterWeights

    s = b.shapes
    provider = AdapterWeights(b.uri("adapter"))
    adapter = provider.adapter
    rows = [json.loads(ln) for ln in (b.work / "data" / "mixed.jsonl").read_text().splitlines()]
    prompts = [r["prompt"] for r in rows]
    prompts = (prompts * (s.infer_prompts // len(prompts) + 1))[: s.infer_prompts]
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    adapter.weights(prompts[:64], batch_size=64)  # warm-up
    adapter.weights_one_by_one(prompts[:4])
    t0 = time.perf_counter()
    batched = adapter.weights(prompts, batch_size=64)
    t_batched = time.perf_counter() - t0
    few = prompts[: s.infer_one_by_one]
    t0 = time.perf_counter()
    single = adapter.weights_one_by_one(few)
    t_single = time.perf_counter() - t0
    agree = float(np.max(np.abs(batched[: len(few)] - single)))
    out = {
        "device": str(next(adapter.module.parameters()).device),
        "dtype": str(next(adapter.module.parameters()).dtype),
        "prompts": len(prompts),
        "batchedPerSec": round(len(prompts) / t_batched, 1),
        "oneByOnePerSec": round(len(few) / t_single, 1),
        "ratio": round((len(prompts) / t_batched) / (len(few) / t_single), 1),
        "maxAbsDiff": round(agree, 5),
    }
    if cuda:
        out["peakGiB"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    del provider, adapter
    if cuda:
        torch.cuda.empty_cache()
    return out


def align_settings(b: Bench) -> dict[str, Any]:
    s = b.shapes
    return {
        "steps": s.align_steps, "batch": s.align_batch, "numGenerations": s.num_generations,
        "maxNewTokens": s.max_new_tokens, "temperature": 0.7, "topP": 1.0, "beta": 0.04, "lr": 1e-6, "seed": 0,
        "threads": s.threads,
    }  # fmt: skip


def align_phase(zero: int | None = None) -> Callable[[Bench, Phase], None]:
    """``pro stage align``: PRO-MORLHF (GRPO) with the adapter's weights (uniform when it is missing);
    under ZeRO ``zero``: a second artifact."""
    return lambda b, ph: align_run(b, ph, zero)


def align_run(b: Bench, ph: Phase, zero: int | None) -> None:
    a = align_settings(b)
    name = "align-pro" if zero is None else f"align-zero{zero}"
    objectives = b.reward_models()
    weights = (
        {"mode": "adapter", "adapter": b.uri("adapter")} if b.committed("adapter") else {"mode": "uniform"}
    )
    spec = {
        "method": "morlhf", "algorithm": "grpo",
        "objectives": objectives,
        "rewardModels": {o: b.uri(f"rm-{o}") for o in objectives},
        "weights": weights,
        "policy": {"name": str(b.work / "models" / "policy")},
        "prompts": str(b.work / "data" / "prompts.jsonl"),
        "generation": {"temperature": a["temperature"], "topP": a["topP"], "maxNewTokens": a["maxNewTokens"],
                       "numGenerations": a["numGenerations"]},
        "beta": a["beta"],
        "training": {"maxSteps": a["steps"], "learningRate": a["lr"], "perDeviceBatchSize": a["batch"],
                     "scheduler": "constant", "seed": a["seed"], "evalBatchSize": 64, **threads(b)},
        "output": b.uri(name),
        **({"deepspeed": {"stage": zero}} if zero is not None else {}),
    }  # fmt: skip
    run = b.run_stage(ph.name, "PolicyAlignment", name, spec)
    ph.result |= {"weights": weights["mode"], "wallSeconds": run["wallSeconds"],
                  "stageSeconds": run["result"].get("seconds"), **rl_rates(run["probe"])}  # fmt: skip
    log_rl(b, name, ph.result)


def align_bare_phase(b: Bench, ph: Phase) -> None:
    """The bare TRL GRPO script with the same policy, prompts, weights, reward and settings."""
    objectives = b.reward_models()
    data = b.work / "data" / "grpo-bare.jsonl"
    write_bare_data(b, data, len(objectives))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=1",
           "-m", "bench.gpu_bare_grpo", "--policy", str(b.work / "models" / "policy"),
           "--data", str(data), "--objectives", ",".join(objectives),
           "--reward-models", json.dumps({o: b.uri(f"rm-{o}") for o in objectives}),
           "--work", str(b.work / "bare-grpo"), "--settings", json.dumps(align_settings(b))]  # fmt: skip
    run = b.run_process(ph.name, cmd)
    ph.result |= {"wallSeconds": run["wallSeconds"], **rl_rates(run["probe"])}
    log_rl(b, "bare TRL", ph.result)


def log_rl(b: Bench, who: str, r: dict[str, Any]) -> None:
    b.log(f"   {who}: gen {r.get('genTokensPerSec')} tok/s, train {r.get('trainTokensPerSec')} tok/s, "
          f"e2e {r.get('e2eTokensPerSec')} tok/s, step {r.get('stepSeconds')} s "
          f"(gen {r.get('genSeconds')} + score {r.get('scoreSeconds')} + optim {r.get('optimSeconds')}), "
          f"peak {r.get('peakGiB')} GiB")  # fmt: skip


def write_bare_data(b: Bench, path: Path, k: int) -> None:
    """The stage's own prompts and per-prompt weights (its ``weights.jsonl``), else uniform weights."""
    from pro.align.policy import policy_prompt

    committed = b.store / "align-pro" / "weights.jsonl"
    if committed.exists():
        rows = [json.loads(ln) for ln in committed.read_text().splitlines()]
        pairs = [(r["prompt"], r["w"]) for r in rows]
    else:
        prompts = [
            json.loads(ln)["prompt"] for ln in (b.work / "data" / "prompts.jsonl").read_text().splitlines()
        ]
        pairs = [(p, [1.0 / k] * k) for p in dict.fromkeys(prompts)]
    path.write_text("".join(json.dumps({"prompt": policy_prompt(p), "raw_prompt": p, "weights": w}) + "\n"
                            for p, w in pairs))  # fmt: skip


def eval_phase(b: Bench, ph: Phase) -> None:
    """``pro stage eval``: the aligned policy (the starting one if alignment failed) vs the starting policy,
    judged by the first reward model, per-objective z-scores from all, adapter weights per category."""
    s = b.shapes
    objectives = b.reward_models()
    start = str(b.work / "models" / "policy")
    spec: dict[str, Any] = {
        "policyA": {"name": "pro", "uri": b.uri("align-pro") if b.committed("align-pro") else start},
        "policyB": {"name": "start", "uri": start},
        "prompts": str(b.work / "data" / "heldout.jsonl"),
        "judge": {"kind": "rewardModel", "uri": b.uri(f"rm-{objectives[0]}")},
        "temperature": 0.0, "maxNewTokens": s.eval_new_tokens,
        "objectives": objectives, "rewardModels": {o: b.uri(f"rm-{o}") for o in objectives},
        "output": b.uri("eval"),
    }  # fmt: skip
    if b.committed("adapter"):
        spec["adapter"] = b.uri("adapter")
    run = b.run_stage(ph.name, "PolicyEvaluation", "eval", spec)
    ph.result |= {
        "wallSeconds": run["wallSeconds"],
        "stageSeconds": run["result"].get("seconds"),
        "winRate": run["result"].get("winRate"),
        "prompts": run["result"].get("prompts"),
        "peakGiB": (run["probe"].get("cuda") or {}).get("maxAllocatedGiB"),
    }
    b.log(f"   eval: {ph.result['prompts']} prompts, win rate {ph.result['winRate']}, stage {ph.result['wallSeconds']} s, "
          f"peak {ph.result['peakGiB']} GiB")  # fmt: skip


#: (name, seconds it needs at least, body), in dependency order
PHASES: list[tuple[str, float, Callable[[Bench, Phase], None]]] = [
    ("env", 5, env_phase),
    ("prepare", 20, prepare_phase),
    ("reward-bare", 20, reward_bare_phase),
    *[(f"reward-{'plain' if z is None else f'zero{z}'}", 45, reward_phase(o, z)) for o, z in RM_RUNS],
    ("adapter", 40, adapter_phase()),
    ("adapter-infer", 10, adapter_infer_phase),
    ("align", 60, align_phase()),
    ("eval", 30, eval_phase),  # before the baseline: every stage's artifact first
    ("align-bare", 45, align_bare_phase),
]
#: run with ``--extras`` while the budget lasts: the other stages under DeepSpeed
EXTRAS: list[tuple[str, float, Callable[[Bench, Phase], None]]] = [
    ("adapter-zero3", 45, adapter_phase(3)),
    ("align-zero2", 70, align_phase(2)),
]


# ------------------------------------------------------------------------------------------ report


def fmt(x: Any, spec: str = "") -> str:
    if x is None:
        return "–"
    if isinstance(x, float) and spec:
        return format(x, spec)
    return str(x)


def ratio(a: Any, b: Any) -> str:
    return f"{a / b:.2f}×" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "–"


def table(b: Bench) -> str:
    """The markdown tables for docs/benchmarks.md (GPU section)."""
    p = b.phases
    r = {k: v.result for k, v in p.items()}
    env = r.get("env", {})
    lines = [
        f"{dt.date.today().isoformat()}, {env.get('device', '?')}, torch {env.get('versions', {}).get('torch')}, "
        f"transformers {env.get('versions', {}).get('transformers')}, trl {env.get('versions', {}).get('trl')}, "
        f"deepspeed {env.get('versions', {}).get('deepspeed')}; measured {b.facts.get('gemmDtype')} GEMM {env.get('gemmTflops')} TFLOP/s "
        f"(MFU below against {b.facts.get('peakTflops')}); mode {b.facts['mode']}.",
        "",
        "| measure | ours | baseline | ratio | peak GPU GiB (ours / baseline) |",
        "|---|---|---|---|---|",
    ]

    def row(
        label: str, ours: dict[str, Any], base: dict[str, Any], key: str, base_label: str, *, extra: str = ""
    ) -> None:
        """One comparison: ours vs the baseline on ``key``, their ratio and both peaks."""
        lines.append(
            f"| {label} | {fmt(ours.get(key))}{extra and f' ({fmt(ours.get(extra))})'} | "
            f"{fmt(base.get(key))}{extra and f' ({fmt(base.get(extra))})'} {base_label} | {ratio(ours.get(key), base.get(key))} | "
            f"{fmt(ours.get('peakGiB'))} / {fmt(base.get('peakGiB'))} |"
        )  # fmt: skip

    for name in ("reward-plain", "reward-zero2", "reward-zero3"):
        row(
            f"{name}: pairs/s (MFU)",
            r.get(name, {}),
            r.get("reward-bare", {}),
            "samplesPerSec",
            "bare loop",
            extra="mfu",
        )
    ad, ai = r.get("adapter", {}), r.get("adapter-infer", {})
    row("adapter training: prompts/s", ad, {}, "samplesPerSec", "")
    if "adapter-zero3" in r:
        row("adapter ZeRO-3 training: prompts/s", r["adapter-zero3"], ad, "samplesPerSec", "plain")
    row("adapter inference: prompts/s, batched vs one at a time", ai | {"v": ai.get("batchedPerSec")},
        {"v": ai.get("oneByOnePerSec")}, "v", "one at a time")  # fmt: skip
    ours, bare_rl = r.get("align", {}), r.get("align-bare", {})
    for key, label in (("genTokensPerSec", "generation tok/s"), ("trainTokensPerSec", "training tok/s"),
                       ("e2eTokensPerSec", "end-to-end tok/s")):  # fmt: skip
        row(f"GRPO {label}", ours, bare_rl, key, "bare TRL")
    if "align-zero2" in r:
        row("GRPO ZeRO-2 end-to-end tok/s", r["align-zero2"], ours, "e2eTokensPerSec", "plain")
    ev = r.get("eval", {})
    lines.append(
        f"| eval: {fmt(ev.get('prompts'))} prompts × 2 policies | {fmt(ev.get('wallSeconds'))} s | – | – | {fmt(ev.get('peakGiB'))} / – |"
    )
    lines += ["", "| trainer run | params | param dtype | bf16 | grad ckpt | attn | optim | workers | pin mem |",
              "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, ph in p.items():
        x = ph.result
        a = x.get("args") or {}
        if a:
            lines.append(
                f"| {name} | {fmt(x.get('params'))} | {fmt(x.get('paramDtype'))} | {fmt(a.get('bf16'))} | "
                f"{fmt(a.get('gradient_checkpointing'))} | {fmt(x.get('attn'))} | {fmt(a.get('optim'))} | "
                f"{fmt(a.get('dataloader_num_workers'))} | {fmt(a.get('dataloader_pin_memory'))} |"
            )
    lines += ["", "| phase | status | seconds | stage wall s | note |", "|---|---|---|---|---|"]
    for name, ph in p.items():
        note = ph.error or ""
        lines.append(
            f"| {name} | {ph.status} | {ph.seconds} | {fmt(ph.result.get('wallSeconds'))} | {note[:120]} |"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="tiny shapes on the CPU (the same code path)")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "runs/gpu-bench")))
    ap.add_argument(
        "--work", type=Path, default=None, help="scratch (models, store); default /tmp/pro-gpu-bench"
    )
    ap.add_argument(
        "--budget-s", type=float, default=None, help="stop starting phases after this many seconds"
    )
    ap.add_argument("--only", default=None, help="comma-separated phase names (dependencies must exist)")
    ap.add_argument(
        "--extras", action="store_true", help="then adapter (ZeRO-3) and align (ZeRO-2), budget permitting"
    )
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    b = Bench(args)
    os.environ.setdefault("PRO_CACHE_DIR", str(b.work / "cache"))
    # DeepSpeed's JIT ops (the CPU's shared-memory op) per Python and torch: a build for another torch fails to load
    import torch

    tag = f"py{sys.version_info.major}{sys.version_info.minor}-torch{torch.__version__}"
    os.environ.setdefault(
        "TORCH_EXTENSIONS_DIR", str(Path(tempfile.gettempdir()) / f"torch_extensions-{tag}")
    )
    os.environ.setdefault("HF_HOME", str(b.work / "hf"))
    b.log(f"bench/gpu.py {'--tiny ' if b.tiny else ''}out={b.out} work={b.work} budget={b.budget:.0f} s")
    try:
        for name, needs_s, body in PHASES + (EXTRAS if args.extras else []):
            b.run_phase(name, needs_s, body)
    finally:
        doc = {
            "facts": b.facts,
            "shapes": asdict(b.shapes),
            "phases": {k: asdict(v) for k, v in b.phases.items()},
        }
        (b.out / "gpu.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
        try:
            md = table(b)
        except Exception as err:  # the numbers are in gpu.json whatever happens here
            md = f"table failed: {err!r}"
        (b.out / "table.md").write_text(md + "\n")
        b.log(
            f"done in {b.log.elapsed():.0f} s; committed: {sorted(p.name for p in b.store.iterdir() if (p / 'manifest.json').exists())}"
        )
        print("\n" + md, flush=True)
    bad = [n for n, ph in b.phases.items() if ph.status != "ok"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
