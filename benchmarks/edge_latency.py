"""What the edge costs: Elasticsearch queries and Kafka produces sent straight to the local
service and through Traefik (TLS from the local CA, basic auth), measured in the same run
with the same account, so the figures read as ratios on a shared machine.

  es-query       GET /<index>/_search (a terms aggregation over a small seeded index) on one
                 keep-alive connection: http://127.0.0.1:<es port> vs https://<edge>/elasticsearch
  es-connect     the same query on a new connection each time (the edge adds a TLS handshake)
  kafka-produce  one message, acks=all, waited for before the next (a round trip each):
                 SASL_PLAINTEXT to the broker vs SASL_SSL through the edge's TCP router
  kafka-batch    messages/s for a burst of --batch messages, same two paths

The paths alternate in rounds, so a load spike on the machine hits both. Only the local
stack (`make up`) is measured.

    python -m benchmarks.edge_latency --help
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
import uuid
from functools import partial
from pathlib import Path

import requests
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from benchmarks.common import configured
from local_services.accounts import ADMIN_USER
from local_services.settings import LocalSettings
from pipeline_common.logs import configure_logging

log = logging.getLogger("benchmarks.edge_latency")
QUERY = {"size": 0, "aggs": {"labels": {"terms": {"field": "label.keyword"}}}}  # dynamic mapping: text + keyword


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000,
        "n": len(ordered),
    }


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def es_paths(settings: LocalSettings) -> dict[str, dict]:
    auth = ("elastic", settings.es_password)
    return {
        "direct": {"base": f"http://{settings.host}:{settings.es_port}", "verify": True, "auth": auth},
        "edge": {
            "base": f"{settings.edge.https_url}/elasticsearch",
            "verify": str(settings.paths.ca_cert),
            "auth": auth,
        },
    }


def seed_index(path: dict, index: str) -> None:
    lines = []
    for n in range(500):
        lines.append(json.dumps({"index": {"_index": index}}))
        lines.append(json.dumps({"label": ["person", "car", "dog", "bicycle"][n % 4], "count": n}))
    response = requests.post(
        f"{path['base']}/_bulk?refresh=true",
        data="\n".join(lines) + "\n",
        headers={"Content-Type": "application/x-ndjson"},
        auth=path["auth"],
        verify=path["verify"],
        timeout=60,
    )
    response.raise_for_status()
    assert not response.json()["errors"], response.text[:500]


def bench_es(settings: LocalSettings, rounds: int, per_round: int) -> dict:
    paths = es_paths(settings)
    index = f"edge-bench-{uuid.uuid4().hex[:8]}"
    seed_index(paths["direct"], index)
    sessions = {name: requests.Session() for name in paths}  # keep-alive connections
    query = {name: f"{path['base']}/{index}/_search" for name, path in paths.items()}
    kept = {name: [] for name in paths}
    fresh = {name: [] for name in paths}

    def search(session, name):
        # `verify` per request: a session's would lose to REQUESTS_CA_BUNDLE
        response = session.post(
            query[name], json=QUERY, auth=paths[name]["auth"], verify=paths[name]["verify"], timeout=30
        )
        response.raise_for_status()

    def new_connection(name):
        with requests.Session() as once:
            search(once, name)

    try:
        for name in paths:  # warm-up: JIT, caches, the keep-alive connection
            for _ in range(20):
                search(sessions[name], name)
        for _ in range(rounds):
            for name in paths:
                kept[name] += [timed(partial(search, sessions[name], name)) for _ in range(per_round)]
                fresh[name] += [timed(partial(new_connection, name)) for _ in range(max(1, per_round // 5))]
    finally:
        requests.delete(f"{paths['direct']['base']}/{index}", auth=paths["direct"]["auth"], timeout=60)
    return {
        "es-query": {name: percentiles(samples) for name, samples in kept.items()},
        "es-connect": {name: percentiles(samples) for name, samples in fresh.items()},
    }


def kafka_paths(settings: LocalSettings) -> dict[str, dict]:
    account = {"sasl.mechanism": "PLAIN", "sasl.username": ADMIN_USER, "sasl.password": settings.kafka_admin_password}
    return {
        "direct": {
            "bootstrap.servers": f"{settings.host}:{settings.kafka_port}",
            "security.protocol": "SASL_PLAINTEXT",
            **account,
        },
        "edge": {
            "bootstrap.servers": settings.edge.kafka_bootstrap,
            "security.protocol": "SASL_SSL",
            "ssl.ca.location": str(settings.paths.ca_cert),
            **account,
        },
    }


def bench_kafka(settings: LocalSettings, rounds: int, per_round: int, batch: int) -> dict:
    paths = kafka_paths(settings)
    topic = f"edge-bench-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(paths["direct"])
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    producers = {
        name: Producer({**config, "acks": "all", "linger.ms": 0, "enable.idempotence": True})
        for name, config in paths.items()
    }
    single = {name: [] for name in paths}
    rates = {name: [] for name in paths}
    payload = b"x" * 512

    def round_trip(producer):
        failures = []
        producer.produce(topic, payload, on_delivery=lambda err, _m: err and failures.append(err))
        producer.flush(30)
        if failures:
            raise RuntimeError(failures[0])

    def burst(producer) -> float:
        started = time.perf_counter()
        for _ in range(batch):
            while True:
                try:
                    producer.produce(topic, payload)
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.flush(60)
        return batch / (time.perf_counter() - started)

    try:
        for producer in producers.values():  # warm-up: connections, producer id, metadata
            for _ in range(20):
                round_trip(producer)
        for _ in range(rounds):
            for name, producer in producers.items():
                single[name] += [timed(partial(round_trip, producer)) for _ in range(per_round)]
                rates[name].append(burst(producer))
    finally:
        admin.delete_topics([topic])[topic].result(timeout=30)
    return {
        "kafka-produce": {name: percentiles(samples) for name, samples in single.items()},
        "kafka-batch": {
            name: {"messages_per_s": statistics.median(values), "n": len(values)} for name, values in rates.items()
        },
    }


def report(results: dict) -> None:
    print(f"{'measure':<15}{'path':<8}{'p50 ms':>9}{'p95 ms':>9}{'msg/s':>10}{'n':>6}   edge/direct")
    for measure, paths in results.items():
        for name, figures in paths.items():
            print(
                f"{measure:<15}{name:<8}{figures.get('p50_ms', float('nan')):>9.2f}"
                f"{figures.get('p95_ms', float('nan')):>9.2f}{figures.get('messages_per_s', float('nan')):>10.0f}"
                f"{figures['n']:>6}",
                end="",
            )
            if name == "edge":
                key = "p50_ms" if "p50_ms" in figures else "messages_per_s"
                print(f"   {figures[key] / paths['direct'][key]:.2f}x ({key})", end="")
            print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per path (default 5)")
    parser.add_argument("--per-round", type=int, default=60, help="requests or messages per round (default 60)")
    parser.add_argument("--batch", type=int, default=5000, help="messages per throughput burst (default 5000)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    _, settings = configured(LocalSettings)
    results = {
        **bench_es(settings, args.rounds, args.per_round),
        **bench_kafka(settings, args.rounds, args.per_round, args.batch),
    }
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
