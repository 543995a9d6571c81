"""Operations: what a person or a probe asks of a running worker (status, readiness,
consumer lag, throughput) and the HTTP views that answer them."""
