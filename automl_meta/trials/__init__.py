"""Running trials: one config scored in a worker process within a time limit."""
