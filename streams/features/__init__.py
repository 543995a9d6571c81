"""Feature tables: immutable snapshots read from Parquet, swapped atomically on change."""
