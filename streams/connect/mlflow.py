"""MLflow credentials: a tracking server behind basic auth.

MLflow's client reads its credentials only from its own environment variables
(MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD), with no per-client argument, so
settings given any other way (a test, a .env-less embedding) are exported to them once.
"""

from __future__ import annotations

import os

from streams.settings import Settings


def export_mlflow_credentials(settings: Settings) -> None:
    """Make MLflow's client log in as the settings say (no-op without a username)."""
    if not settings.mlflow_tracking_username:
        return
    os.environ["MLFLOW_TRACKING_USERNAME"] = settings.mlflow_tracking_username
    if settings.mlflow_tracking_password is not None:
        os.environ["MLFLOW_TRACKING_PASSWORD"] = (
            settings.mlflow_tracking_password.get_secret_value()
        )
