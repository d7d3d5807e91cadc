"""Print what every registered strategy proposes, built as `fit` builds it: the guard of a
change that must not change the search (run it before and after; the outputs must match).

Each strategy is built by search.choice.choose_strategy for each named corpus table and
asked `--steps` times, told a made-up but deterministic result for each config (score,
seconds and failure from a hash of its id), once with proposals counted (no clock) and
once with a 60 s clock of those seconds. No trial runs, so it takes seconds per strategy.

With `--fits`, each is instead one real `automl fit --max-trials STEPS --n-jobs 1`, as a
user runs it: its trials in the order they ran, `source:config_id` and scores from its
model.json (timings left out: they vary). Under --max-trials proposals ignore the clock,
so two runs of the same code give the same file.

    python scripts/proposal_sequences.py --manifest ../shared/corpus/manifest.csv \
        --metabase metabase/default.metabase --out before.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from automl_meta.core.metric_names import DEFAULT_METRIC
from automl_meta.core.registry import STRATEGIES
from automl_meta.core.settings import FitSettings
from automl_meta.core.space import SearchSpace, config_id
from automl_meta.metabase.corpus import read_manifest, table_file
from automl_meta.metabase.sources import load_entry
from automl_meta.search.choice import choose_strategy
from automl_meta.trials.evaluate import Status, Trial

CLOCK_SECONDS = 60.0


def made_up(cid: str) -> tuple[float, float, bool]:
    """A config's score in [0, 1), fit seconds and whether it failed, from its id alone."""
    h = int(hashlib.sha256(cid.encode()).hexdigest()[:8], 16) / 2**32
    return h, 0.2 + 3 * h * h, h < 0.08


def sequence(dataset, strategy: str, metabase: str, steps: int, clock: bool) -> list[str]:
    """`source:config_id` of each of `steps` proposals."""
    metric = DEFAULT_METRIC[dataset.task_type]
    space = SearchSpace(dataset.task_type, dataset.n_rows)
    built, _ = choose_strategy(dataset, FitSettings(strategy=strategy, metabase=metabase, seed=3),
                               space, metric)
    out, spent = [], 0.0
    for i in range(steps):
        config, source = (built.ask(CLOCK_SECONDS - spent, 1.0 - spent / CLOCK_SECONDS)
                          if clock else built.ask())
        cid = config_id(config)
        score, seconds, failed = made_up(cid)
        if metric in ("log_loss", "rmse"):  # lower is better there
            score = 1.0 - score
        built.tell(Trial(index=i, config=config, config_id=cid,
                         status=Status.FAILED if failed else Status.OK, fit_seconds=seconds,
                         scores={} if failed else {metric: score}))
        spent += seconds
        out.append(f"{source}:{cid}")
    return out


def fit_sequence(entry, strategy: str, metabase: str, steps: int, folder: Path) -> list[str]:
    """`source:config_id scores` of each trial of one real fit, in the order they ran."""
    out = folder / f"{entry.name}.{strategy}.pkl"
    task = "regression" if entry.task == "regression" else "classification"
    cmd = [sys.executable, "-m", "automl_meta", "fit", str(table_file(entry, folder)),
           "--target", entry.target, "--task", task, "--strategy", strategy,
           "--metabase", metabase, "--max-trials", str(steps), "--n-jobs", "1",
           "--time-budget", "600", "--seed", "3", "--output", str(out), "--quiet"]
    cmd += ["--drop", ",".join(entry.drop)] if entry.drop else []
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        return [f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"]
    board = json.loads(out.with_suffix(".json").read_text())["leaderboard"]
    return [f"{t['source']}:{t['config_id']} {json.dumps(t['scores'], sort_keys=True)}"
            for t in sorted(board, key=lambda t: t["index"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--metabase", required=True)
    parser.add_argument("--tables", default="credit-approval,iris,MASS.Boston",
                        help="comma-separated manifest names (one per task type is enough)")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--fits", action="store_true",
                        help="run real fits of --steps trials instead of asking the strategies")
    parser.add_argument("--out", required=True, help="JSON file of the sequences")
    args = parser.parse_args()
    entries = {e.name: e for e in read_manifest(args.manifest)}
    result = {}
    if args.fits:
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.tables.split(","):
                for strategy in args.strategies.split(","):
                    key = f"{name}|{strategy}|fit"
                    result[key] = fit_sequence(entries[name], strategy, args.metabase,
                                               args.steps, Path(tmp))
                    print(key, "done", file=sys.stderr, flush=True)
        Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=True))
        return
    for name in args.tables.split(","):
        dataset = load_entry(entries[name])
        for strategy in args.strategies.split(","):
            for clock in (False, True):
                key = f"{name}|{strategy}|{'clock' if clock else 'counted'}"
                result[key] = sequence(dataset, strategy, args.metabase, args.steps, clock)
                print(key, "done", file=sys.stderr, flush=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
