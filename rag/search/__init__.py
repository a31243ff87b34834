"""Dense, BM25 and fused search over an index; fusion as pure functions."""
