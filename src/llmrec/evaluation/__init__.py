"""Full-catalog evaluation: pure reference metrics, fast in-place ranking, and the evaluator."""
