"""One reader per published raw format; each returns :class:`llmrec.data.interactions.Interactions`."""
