"""Development tooling, not shipped in the worker image: the local Kafka and Redis, one
process supervisor for them, the demo's worker and the test and benchmark workers."""
