"""The batch flow, in the order a record takes: decode → match state → enrich → predict →
publish, with dead letters for whatever fails on the way. ``agents`` runs it per batch."""
