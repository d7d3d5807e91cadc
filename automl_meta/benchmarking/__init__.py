"""What the benchmark scripts run: offline replays of the search on stored trials, regret
curves, task folds, and the online benchmark's split and ranking. The CLI never imports it."""
