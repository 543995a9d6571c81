"""One readable line per prediction, for the request command and the demo."""

from __future__ import annotations

from typing import Any


def prediction_line(record: dict[str, Any], match_width: int = 0) -> str:
    """``match  67' live  2-1  H 71.2%  D 20.1%  A 8.7%  -> home  model v3``."""
    p = record["probabilities"]
    status, minute = record["status"], record["minute"]
    state = "pre-match" if status == "scheduled" else f"{minute}' {status}"
    model = record["model"]
    return (
        f"{record['match_id']:<{match_width}}  {state:<13}  "
        f"{record['home_goals']}-{record['away_goals']}  "
        f"H {100 * p['home']:5.1f}%  D {100 * p['draw']:5.1f}%  A {100 * p['away']:5.1f}%  "
        f"-> {record['predicted']:<4}  {model['name']} v{model['version']}"
    )
