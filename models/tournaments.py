"""Tournament importance, shared by the Elo update (training) and the model pipeline (serving).

The weights are the World Football Elo K factors (eloratings.net): 60 for the World Cup
finals, 50 for continental finals and major intercontinental tournaments, 40 for World Cup
and continental qualifiers and the Nations Leagues, 30 for every other tournament, 20 for
friendlies. Names follow the ``international_results`` data; an unknown name gets 30 so a
new competition in a live event is neither ignored nor overrated.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Final

import numpy as np

FRIENDLY: Final = "Friendly"
WORLD_CUP: Final = "FIFA World Cup"

#: Finals of continental championships and major intercontinental tournaments.
CONTINENTAL_FINALS: Final = frozenset(
    {
        "UEFA Euro",
        "Copa América",
        "African Cup of Nations",
        "AFC Asian Cup",
        "Gold Cup",
        "CONCACAF Championship",
        "Oceania Nations Cup",
        "Confederations Cup",
    }
)

#: Competitive leagues treated like qualifiers (they also seed qualification draws).
NATIONS_LEAGUES: Final = frozenset({"UEFA Nations League", "CONCACAF Nations League"})

QUALIFICATION_SUFFIX: Final = " qualification"
DEFAULT_WEIGHT: Final = 30.0


@lru_cache(maxsize=4096)
def tournament_weight(name: str) -> float:
    """The K factor of one tournament name (case and surrounding spaces are ignored)."""
    key = name.strip()
    folded = key.casefold()
    if folded == FRIENDLY.casefold():
        return 20.0
    if folded == WORLD_CUP.casefold():
        return 60.0
    if key in CONTINENTAL_FINALS:
        return 50.0
    if key in NATIONS_LEAGUES:
        return 40.0
    if folded.endswith(QUALIFICATION_SUFFIX):
        base = key[: -len(QUALIFICATION_SUFFIX)]
        major = base.casefold() == WORLD_CUP.casefold() or base in CONTINENTAL_FINALS
        return 40.0 if major or base in NATIONS_LEAGUES else DEFAULT_WEIGHT
    return DEFAULT_WEIGHT


def tournament_weights(names: Iterable[object]) -> np.ndarray:
    """Vectorised :func:`tournament_weight`; missing or non-string names get the default."""
    return np.fromiter(
        (tournament_weight(n) if isinstance(n, str) else DEFAULT_WEIGHT for n in names),
        dtype=np.float64,
    )
