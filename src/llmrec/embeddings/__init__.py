"""Item-text embeddings: encoders, an on-disk cache, dimensionality reduction and nearest neighbours."""
