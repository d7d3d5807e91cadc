"""Print what `automl fit --max-trials N --n-jobs 1` runs, strategy by strategy: the guard of
a change that must not change the search (run it before and after; compare the outputs).

For each table and strategy, one fit as a user runs it; from its model.json, the trials in
the order they ran, each as `source:config_id` and its scores (timings left out: they
vary from run to run). Under --max-trials proposals ignore the clock, so two runs of the
same code give the same file.

    python scripts/fit_sequences.py --manifest ../shared/corpus/manifest.csv --out after.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from automl_meta.core.registry import STRATEGIES
from automl_meta.metabase.corpus import read_manifest, table_file


def run(entry, strategy: str, trials: int, folder: Path, metabase: str | None) -> list[str]:
    """`source:config_id scores` of each trial of one fit, in the order they ran."""
    out = folder / f"{entry.name}.{strategy}.pkl"
    task = "regression" if entry.task == "regression" else "classification"
    cmd = [sys.executable, "-m", "automl_meta", "fit", str(table_file(entry, folder)),
           "--target", entry.target, "--task", task, "--strategy", strategy,
           "--max-trials", str(trials), "--n-jobs", "1", "--time-budget", "600", "--seed", "0",
           "--output", str(out), "--quiet"]
    cmd += ["--drop", ",".join(entry.drop)] if entry.drop else []
    cmd += ["--metabase", metabase] if metabase else []
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        return [f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"]
    board = json.loads(out.with_suffix(".json").read_text())["leaderboard"]
    return [f"{t['source']}:{t['config_id']} {json.dumps(t['scores'], sort_keys=True)}"
            for t in sorted(board, key=lambda t: t["index"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--tables", default="credit-approval,iris,MASS.Boston",
                        help="comma-separated manifest names")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--metabase", default=None, help="default: the shipped meta-base")
    parser.add_argument("--out", required=True, help="JSON file of the sequences")
    args = parser.parse_args()
    entries = {e.name: e for e in read_manifest(args.manifest)}
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.tables.split(","):
            for strategy in args.strategies.split(","):
                key = f"{name}|{strategy}"
                result[key] = run(entries[name], strategy, args.trials, Path(tmp), args.metabase)
                print(key, result[key][-1][:60], file=sys.stderr, flush=True)
    Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
