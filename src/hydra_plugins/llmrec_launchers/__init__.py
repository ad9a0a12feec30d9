"""llmrec's Hydra launchers (``hydra/launcher=slurm``, ``slurm_local``); Hydra finds launchers in the
``hydra_plugins`` namespace only."""
