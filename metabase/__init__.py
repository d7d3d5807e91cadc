"""Data package: the embedded default meta-base and surrogate weights (see README.md here)."""
