"""Pydantic v2 models of every record on the wire (see ../shared/CONTRACT.md)."""
