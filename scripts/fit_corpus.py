"""Run `automl fit` on every task of a manifest and record wall time against the budget.

Each task runs as its own `automl fit` process, so the measured time is what a user waits
(interpreter start and loading included). Results are appended to a CSV as they come, and
tasks already in it are skipped: kill it and rerun, it resumes.

    python scripts/fit_corpus.py --manifest ../shared/corpus/manifest.csv --time-budget 30 \
        --out results/fit_corpus.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from automl_meta.metabase.corpus import read_manifest, table_file

FIELDS = ["name", "rows", "exit_code", "wall_seconds", "budget", "limit", "within_limit",
          "metric", "best_score", "family", "trials", "failed", "error"]


def run_one(entry, budget: float, folder: Path, extra: list[str]) -> dict:
    data = table_file(entry, folder)
    out = folder / f"{entry.name}.pkl"
    task = "regression" if entry.task == "regression" else "classification"
    cmd = [sys.executable, "-m", "automl_meta", "fit", str(data), "--target", entry.target,
           "--task", task, "--time-budget", str(budget), "--output", str(out), "--quiet", *extra]
    if entry.drop:
        cmd += ["--drop", ",".join(entry.drop)]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - start
    limit = budget * 1.1 + 5
    row = {"name": entry.name, "exit_code": proc.returncode, "wall_seconds": round(wall, 2),
           "budget": budget, "limit": round(limit, 2), "within_limit": wall <= limit,
           "error": proc.stderr.strip().splitlines()[-1] if proc.returncode else ""}
    summary_path = out.with_suffix(".json")
    if summary_path.exists():
        s = json.loads(summary_path.read_text())
        row.update(rows=s["data"]["rows"], metric=s["metric"], family=s["best"]["config"]["family"],
                   best_score=s["best"]["scores"][s["metric"]], trials=sum(s["trials"].values()),
                   failed=sum(v for k, v in s["trials"].items() if k != "ok"))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--time-budget", type=float, default=30.0)
    parser.add_argument("--out", default="results/fit_corpus.csv")
    parser.add_argument("--only", default="", help="comma-separated task names")
    args, extra = parser.parse_known_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.exists():
        with out.open() as fh:
            done = {r["name"] for r in csv.DictReader(fh)}
    entries = [e for e in read_manifest(args.manifest)
               if e.name not in done and (not args.only or e.name in args.only.split(","))]
    with tempfile.TemporaryDirectory() as tmp, out.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if not done:
            writer.writeheader()
        for i, entry in enumerate(entries, 1):
            row = run_one(entry, args.time_budget, Path(tmp), extra)
            writer.writerow(row)
            fh.flush()
            print(f"[{i}/{len(entries)}] {entry.name:35s} exit {row['exit_code']} "
                  f"{row['wall_seconds']:6.1f}s / {row['limit']}s  {row.get('metric', '')} "
                  f"{row.get('best_score', '')} {row['error']}", flush=True)
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    worst = max(rows, key=lambda r: float(r["wall_seconds"]) - float(r["limit"]))
    failed = [r["name"] for r in rows if r["exit_code"] != "0"]
    print(f"\n{len(rows)} tasks; failures: {len(failed)} {failed}")
    print(f"worst case: {worst['name']} {worst['wall_seconds']} s against a limit of {worst['limit']} s")


if __name__ == "__main__":
    main()
