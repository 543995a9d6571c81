"""How every client of the service connects: Kafka, Redis and MLflow, from Settings."""
