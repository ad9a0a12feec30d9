"""Reports from results.json files only (no torch, no model code).

``runs`` finds the runs of a folder and reads their protocol and sample schema; ``names`` labels each run
honestly (its stand-in backbone included); ``rows`` groups runs by (label, dataset, protocol, samples) and
summarises seeds; ``stats``, ``corrections`` and ``significance`` compare models with the seed as the unit
of training randomness; ``tables`` and ``plots`` render them; ``summary`` writes the report files and is
the ``python -m llmrec.report`` command line. ``rankings`` and ``sensitivity`` tabulate a protocol
sensitivity study; ``published`` and ``ledger`` write the reproduction ledger."""
