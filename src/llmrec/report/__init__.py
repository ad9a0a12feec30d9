"""Reports from results.json files only: tables, seed-level statistics, plots."""
