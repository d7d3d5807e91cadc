"""The search of `automl fit`: strategies, the loop within the budget, the final ensemble."""
