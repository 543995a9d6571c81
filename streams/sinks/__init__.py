"""Where outputs go: Kafka topics through the app's producer, and the Redis latest-value
store. Each sink is a small object with one way in; the flow's publisher drives them."""
