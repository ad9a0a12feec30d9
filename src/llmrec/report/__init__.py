"""Reports from results.json files only (no torch, no model code): ``runs`` finds and summarises the runs
of a folder, ``tables`` and ``plots`` render them, ``stats`` holds the paired significance tests, and
``summary`` writes the report files and is the ``python -m llmrec.report`` command line."""
