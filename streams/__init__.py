"""SoccerPredict Stream: Faust agents from livescores and match-requests to predictions."""
