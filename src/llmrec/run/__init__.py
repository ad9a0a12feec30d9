"""The runner: the only package that sees a DictConfig (compose -> stages -> fit -> test -> results.json)."""
