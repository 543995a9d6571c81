"""Training, evaluation, registry and loading of the match-outcome model."""
