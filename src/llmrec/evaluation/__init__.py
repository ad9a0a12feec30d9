"""Full-catalog evaluation: the pure reference metrics (``metrics``), the fast ranking paths that give the
same numbers (``ranking``), and the evaluator that accumulates them over batches (``evaluator``)."""
