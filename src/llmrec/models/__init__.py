"""Models: each scores every catalog item for a left-padded sequence of item ids."""
