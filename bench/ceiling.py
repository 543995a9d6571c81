"""The ceiling: a bare aiokafka consume-and-produce loop that does no work.

    .venv/bin/python -m bench.ceiling --bootstrap 127.0.0.1:9092 --source IN --sink OUT \
        --group G --body-size 560

Run by ``python -m bench`` as a child process until it is stopped. It keeps the service's
delivery rules (acks=all, every output acknowledged before its input is committed, a
commit per second like the Faust worker) and writes a prediction-sized record per input,
so the only difference to the pipeline is the work: decode, state, enrich, predict, Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


async def relay(bootstrap: str, source: str, sink: str, group: str, body: bytes) -> None:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    committed_at = time.monotonic()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            acks = [
                await producer.send(sink, body, key=message.key)
                for messages in batches.values()
                for message in messages
            ]
            await asyncio.gather(*acks)
            if time.monotonic() - committed_at >= 1.0:
                await consumer.commit()
                committed_at = time.monotonic()
    finally:
        await producer.stop()
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--sink", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--body-size", type=int, required=True)
    args = parser.parse_args()
    body = b"x" * args.body_size
    asyncio.run(relay(args.bootstrap, args.source, args.sink, args.group, body))


if __name__ == "__main__":
    main()
