"""Bodies of the endpoints that change the serving model."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PromoteRequest(BaseModel):
    """``POST /model/promote``: the version to make champion."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=32, pattern=r"^[0-9]+$")


class WebhookEvent(BaseModel):
    """An MLflow registry webhook delivery (``entity``, ``action``, ``data``)."""

    model_config = ConfigDict(extra="ignore")

    entity: str
    action: str
    data: dict[str, Any]

    def moves_alias(self, model_name: str, aliases: Collection[str]) -> bool:
        """An alias of ours was set (``model_version_alias.created``) on our model."""
        return (
            self.entity == "model_version_alias"
            and self.action == "created"
            and self.data.get("name") == model_name
            and self.data.get("alias") in aliases
        )
