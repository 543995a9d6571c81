"""What the status page shows."""

from __future__ import annotations

from streams.ops.status import redact_uri


def test_redact_uri_hides_only_the_password() -> None:
    assert redact_uri("http://user:pw@mlflow:5000/x") == "http://user:***@mlflow:5000/x"
    assert redact_uri("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"
