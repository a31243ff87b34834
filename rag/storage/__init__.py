"""The on-disk index and its life cycle: atomic, durable versions; build, repair, migrate."""
