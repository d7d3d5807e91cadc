"""Learning from a meta-base: its tables, the task embeddings, warm starts, the surrogate and the cost model."""
