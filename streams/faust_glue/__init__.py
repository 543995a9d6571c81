"""What makes Faust and Kafka fit the service: the tuned app, fixes to Faust internals,
topic creation, heap freezing and the web driver. Nothing here knows about football."""
