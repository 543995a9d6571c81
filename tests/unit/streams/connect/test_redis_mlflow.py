"""Redis TLS keywords and the settings' secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from streams.connect.mlflow import export_mlflow_credentials
from streams.connect.redis import redis_options
from streams.settings import Settings


def test_tls_files_apply_to_rediss_only(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    tls = {"redis_ssl_cafile": ca, "redis_ssl_certfile": ca, "redis_ssl_keyfile": ca}
    assert redis_options(Settings(**tls)) == {}
    assert redis_options(Settings(redis_url="rediss://u:p@h:6380/0", **tls)) == {
        "ssl_ca_certs": str(ca),
        "ssl_certfile": str(ca),
        "ssl_keyfile": str(ca),
    }


def test_the_redis_url_is_a_secret_and_shown_without_credentials() -> None:
    settings = Settings(redis_url="rediss://worker:s3cret@cache:6380/2")
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())
    assert settings.redis_shown == "rediss://cache:6380/2"


def test_a_bad_redis_url_names_the_scheme_not_the_password() -> None:
    # The CLI prints the first error's message (streams.cli.main): it must hold no secret.
    with pytest.raises(ValidationError) as caught:
        Settings(redis_url="http://user:s3cret@cache")
    [error] = caught.value.errors()
    assert "'http'" in error["msg"] and "s3cret" not in error["msg"]


def test_mlflow_credentials_reach_mlflows_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        # setenv first: monkeypatch then restores the variable as it was, absent too, after
        # export_mlflow_credentials wrote it (delenv records nothing for an absent one).
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    export_mlflow_credentials(Settings())
    assert "MLFLOW_TRACKING_USERNAME" not in os.environ
    export_mlflow_credentials(
        Settings(mlflow_tracking_username="worker", mlflow_tracking_password="pw")
    )
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "worker"
    assert os.environ["MLFLOW_TRACKING_PASSWORD"] == "pw"
