"""The local stack: a single-node KRaft Kafka broker and a redis-server on loopback.

Run it with ``python -m streams stack up|down|status``; tests start it through the same
code (``tests/conftest.py``) when nothing is running yet.
"""
