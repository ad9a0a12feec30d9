"""Building blocks shared by the models: transformer blocks, losses."""
