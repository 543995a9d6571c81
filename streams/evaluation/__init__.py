"""How good the served models are, live: scores of every version against results, the
champion/challenger comparison, and promotion on evidence."""
