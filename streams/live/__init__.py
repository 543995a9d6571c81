"""The live resources every batch reads and that swap while the worker runs: the serving
model (from the MLflow registry) and the feature tables (from Parquet snapshots)."""
