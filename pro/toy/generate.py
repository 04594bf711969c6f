"""Generate a toy world's data files (``pro toy generate``), atomically, deterministically per seed.

Layout of the output directory::

    world.yaml                    the spec used
    pairs/<objective>.jsonl       per-objective preference pairs (train prompts)
    pairs/<objective>.test.jsonl  per-objective pairs on test prompts
    mixed.jsonl                   chosen = higher hidden utility (objective "mixed")
    mixed.test.jsonl              same, test prompts
    sft.jsonl                     {"prompt","completion","category"} starting-policy corpus
    heldout.jsonl                 {"id","prompt","category"} evaluation prompts
    truth.json                    {"objectives": [...], "categories": {name: {"weights": {...}}}}
    summary.json                  counts per file, seed, spec digest, version
"""

from __future__ import annotations

import json
import math
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pro.data.errors import DataError
from pro.data.schema import PreferencePair, PromptRecord, write_pairs, write_prompts
from pro.errors import UserError
from pro.spec.base import spec_digest
from pro.spec.loader import dump_yaml
from pro.toy.world import World
from pro.version import __version__

#: consecutive failed draws after which a pair kind is declared impossible in this world
MAX_TRIES = 2000


@dataclass
class Summary:
    """What a generation wrote."""

    out: Path
    seed: int
    digest: str
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "seed": self.seed,
            "worldDigest": self.digest,
            "version": __version__,
        }  # no timing: the same spec and seed give byte-identical files


@dataclass
class _Split:
    train: dict[str, list[str]]
    test: dict[str, list[str]]
    heldout: dict[str, list[str]]


def _split_pools(world: World, rng: random.Random) -> _Split:
    frac = world.spec.splits
    split = _Split({}, {}, {})
    for cat in world.categories:
        pool = world.prompt_pool(cat)
        rng.shuffle(pool)
        n_held = max(1, math.ceil(frac.heldout_fraction * len(pool)))
        n_test = max(1, math.ceil(frac.test_fraction * len(pool)))
        if n_held + n_test >= len(pool):
            raise UserError(
                f"{world.source}: category {cat!r} has only {len(pool)} distinct prompts: too few to split "
                "into train, test and held-out parts; add templates or slot fillers"
            )
        split.heldout[cat] = pool[:n_held]
        split.test[cat] = pool[n_held : n_held + n_test]
        split.train[cat] = pool[n_held + n_test :]
    return split


def _allocate(world: World, total: int) -> dict[str, int]:
    """``total`` split over categories by share (largest remainder)."""
    shares = {c.name: c.share for c in world.spec.categories}
    norm = sum(shares.values())
    exact = {c: total * s / norm for c, s in shares.items()}
    counts = {c: int(v) for c, v in exact.items()}
    for c in sorted(exact, key=lambda c: counts[c] - exact[c])[: total - sum(counts.values())]:
        counts[c] += 1
    return counts


class _Sampler:
    def __init__(self, world: World, rng: random.Random) -> None:
        self.world, self.rng = world, rng
        self.names = [c.name for c in world.spec.categories]
        self.shares = [c.share for c in world.spec.categories]

    def category(self) -> str:
        return self.rng.choices(self.names, weights=self.shares)[0]

    def response(self) -> str:
        return self.world.render(self.world.random_composition(self.rng), self.rng)


def _objective_pairs(
    world: World, sampler: _Sampler, pools: dict[str, list[str]], objective: str, *, n: int, tag: str
) -> list[PreferencePair]:
    rng, margin = sampler.rng, world.spec.pair_min_margin
    out: list[PreferencePair] = []
    fails = 0
    while len(out) < n:
        cat = sampler.category()
        prompt = rng.choice(pools[cat])
        a, b = sampler.response(), sampler.response()
        sa, sb = world._scores(cat, a)[objective], world._scores(cat, b)[objective]
        if abs(sa - sb) < max(margin, 1e-9):
            fails += 1
            if fails > MAX_TRIES:
                raise UserError(
                    f"{world.source}: cannot draw pairs for objective {objective!r} whose scores differ by "
                    f"pairMinMargin ({margin}): no segment changes it enough; add effects or lower the margin"
                )
            continue
        fails = 0
        chosen, rejected = (a, b) if sa > sb else (b, a)
        out.append(PreferencePair(prompt, chosen, rejected, objective, cat, f"{objective}-{tag}-{len(out)}"))
    return out


def _mixed_pairs(
    world: World, sampler: _Sampler, pools: dict[str, list[str]], n: int, tag: str
) -> list[PreferencePair]:
    rng = sampler.rng
    top = {
        c: [comp for _, comp in world.ranked_compositions(c)[: world.spec.mixed_top_k]]
        for c in world.categories
    }
    out: list[PreferencePair] = []
    fails = 0
    while len(out) < n:
        cat = sampler.category()
        prompt = rng.choice(pools[cat])
        a = world.render(rng.choice(top[cat]), rng)
        b = sampler.response()
        w = world.category_weights(cat)
        ua, ub = (
            sum(w[o] * s[o] for o in world.objectives) for s in (world._scores(cat, a), world._scores(cat, b))
        )
        if abs(ua - ub) < 1e-9:
            fails += 1
            if fails > MAX_TRIES:
                raise UserError(f"{world.source}: cannot draw mixed pairs with different utilities")
            continue
        fails = 0
        chosen, rejected = (a, b) if ua > ub else (b, a)
        out.append(PreferencePair(prompt, chosen, rejected, "mixed", cat, f"mixed-{tag}-{len(out)}"))
    return out


def truth(world: World) -> dict[str, Any]:
    """The hidden answer: objectives and each category's weights (plus its dominant objective)."""
    return {
        "objectives": world.objectives,
        "categories": {
            c: {"weights": world.category_weights(c), "dominant": world.dominant(c)} for c in world.categories
        },
    }


def generate(spec_path: str | Path, out: str | Path, seed: int | None = None, force: bool = False) -> Summary:
    """Generate every file of the world at ``spec_path`` into ``out`` (written atomically)."""
    started = time.perf_counter()
    spec_path = Path(spec_path)
    world = World.load(spec_path)
    spec_text = spec_path.read_text(encoding="utf-8") if spec_path.is_file() else dump_yaml(world.spec)
    if seed is not None and seed != world.spec.seed:
        world = World(world.spec.model_copy(update={"seed": seed}), world.source)
        spec_text = dump_yaml(world.spec)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UserError(f"{out}: exists and is not empty; pass --force to replace it")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as err:
        raise UserError(f"{out}: cannot write: {err.strerror or err}") from None
    try:
        summary = _write_all(world, spec_text, tmp, out)
        summary.seconds = time.perf_counter() - started
        (tmp / "summary.json").write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary


def _replace(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{time.time_ns()}")
        out.rename(old)
    try:
        tmp.rename(out)
    except OSError:
        if old is not None:
            old.rename(out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_all(world: World, spec_text: str, tmp: Path, out: Path) -> Summary:
    spec = world.spec
    rng = random.Random(spec.seed)
    split = _split_pools(world, rng)
    sampler = _Sampler(world, rng)
    sizes = spec.sizes
    summary = Summary(out=out, seed=spec.seed, digest=spec_digest(spec), seconds=0.0)
    (tmp / "world.yaml").write_text(spec_text, encoding="utf-8")
    counts = summary.counts
    try:
        for objective in world.objectives:
            for tag, pools, n, name in (
                ("train", split.train, sizes.pairs_per_objective, f"pairs/{objective}.jsonl"),
                ("test", split.test, sizes.test_pairs_per_objective, f"pairs/{objective}.test.jsonl"),
            ):
                counts[name] = write_pairs(
                    _objective_pairs(world, sampler, pools, objective, n=n, tag=tag), tmp / name
                )
        counts["mixed.jsonl"] = write_pairs(
            _mixed_pairs(world, sampler, split.train, sizes.mixed_pairs, "train"), tmp / "mixed.jsonl"
        )
        counts["mixed.test.jsonl"] = write_pairs(
            _mixed_pairs(world, sampler, split.test, sizes.mixed_test_pairs, "test"), tmp / "mixed.test.jsonl"
        )
        sft = []
        for _ in range(sizes.sft):
            cat = sampler.category()
            sft.append(PromptRecord(rng.choice(split.train[cat]), sampler.response(), cat))
        counts["sft.jsonl"] = write_prompts(sft, tmp / "sft.jsonl")
        heldout: list[PromptRecord] = []
        for cat, n in _allocate(world, sizes.heldout).items():
            pool = split.heldout[cat]
            if n > len(pool):
                raise UserError(
                    f"{world.source}: category {cat!r} has {len(pool)} held-out prompts but sizes.heldout "
                    f"asks for {n}; add templates or fillers, raise splits.heldoutFraction or lower sizes.heldout"
                )
            heldout += [PromptRecord(p, None, cat) for p in pool[:n]]
        rng.shuffle(heldout)
        heldout = [PromptRecord(r.prompt, None, r.category, f"heldout-{i}") for i, r in enumerate(heldout)]
        counts["heldout.jsonl"] = write_prompts(heldout, tmp / "heldout.jsonl")
        (tmp / "truth.json").write_text(json.dumps(truth(world), indent=2) + "\n")
    except DataError as err:
        raise UserError(f"{out}: cannot write: {err}") from None
    return summary
