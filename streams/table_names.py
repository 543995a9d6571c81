"""The worker's Faust tables, named once: ``streams.app`` declares them, the topic and ACL
tooling names their changelogs (``{CONSUMER_GROUP}-{table}-changelog``)."""

from __future__ import annotations

from typing import Final

#: The champion's path: each match's newest state and teams (``streams.flow.match_state``).
MATCH_STATE_TABLE: Final = "match_to_state"
#: Read model: every published prediction of each match, the champion's and the
#: challengers' (``streams.read_models.outputs``): the timelines and the forecasts.
OUTPUTS_TABLE: Final = "match_to_outputs"
#: Read model: each finished match's result (``streams.read_models.results``).
RESULTS_TABLE: Final = "match_to_result"
TABLE_NAMES: Final = (MATCH_STATE_TABLE, OUTPUTS_TABLE, RESULTS_TABLE)
