"""Installed llmrec carries this folder as the package ``llmrec.conf`` (see setup.py and
``llmrec.configs.config_dir``); it holds YAML configs only."""
