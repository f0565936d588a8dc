"""How good a model is: metrics, a candidate's card metrics, the registry scored on the test cutoff, importance."""
