"""``python -m llmrec.report DIR``: see :mod:`llmrec.report.summary`."""

import sys

from llmrec.report.summary import main

if __name__ == "__main__":
    sys.exit(main())
