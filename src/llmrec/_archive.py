"""The commit a ``git archive`` of llmrec was made from: git writes it into this string when it exports the
file (``export-subst`` in ``.gitattributes``), so runs from an exported copy, which has no ``.git``, still
record the code that ran. In a checkout the string stays the unexpanded placeholder."""

COMMIT = "$Format:%H$"
