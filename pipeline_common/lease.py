"""A lease in Elasticsearch: one document per lock name, holding its owner and expiry
(the scheduler's batch runs; the indexer, so that two never prune each other's documents).

- acquire: create the document (`op_type=create` fails if it exists); if it exists and
  its lease has expired, take it over with a write conditioned on the sequence number
  read (`if_seq_no`/`if_primary_term`), so of two schedulers taking over at once one wins;
- renew: the same conditional write, pushing the expiry on; a conflict means another
  process took the lease over: this one has lost it and must stop its work;
- release: a conditional delete.

Expiry is compared with each process's own clock, so the lease must be much longer
than the clocks' disagreement (NTP keeps it to milliseconds; the default lease is
two minutes, renewed every 30 s).
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from elasticsearch import BadRequestError, ConflictError, Elasticsearch, NotFoundError

from pipeline_common.timestamps import parse_iso, to_iso, utc_now

log = logging.getLogger(__name__)

LOCK_MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "owner": {"type": "keyword"},
        "token": {"type": "keyword"},
        "record_id": {"type": "keyword"},
        "acquired_at": {"type": "date"},
        "renewed_at": {"type": "date"},
        "expires_at": {"type": "date"},
    },
}


def ensure_index(es: Elasticsearch, index: str, mappings: dict, settings: dict | None = None) -> None:
    if es.indices.exists(index=index):
        return
    try:
        es.indices.create(
            index=index, mappings=mappings, settings=settings or {"number_of_shards": 1, "number_of_replicas": 0}
        )
    except BadRequestError as error:
        if error.error != "resource_already_exists_exception":  # created meanwhile: fine
            raise


@dataclass(frozen=True)
class Holder:
    owner: str
    expires_at: datetime
    record_id: str = ""

    def __str__(self) -> str:
        return f"{self.owner} (lease until {to_iso(self.expires_at)})"


class Lease:
    def __init__(
        self,
        es: Elasticsearch,
        index: str,
        name: str,
        owner: str,
        duration: timedelta,
        clock: Callable[[], datetime] = utc_now,
        record_id: str = "",
    ):
        self.es, self.index, self.name, self.owner = es, index, name, owner
        self.duration, self.clock, self.record_id = duration, clock, record_id
        self.token = uuid.uuid4().hex  # this acquisition, even within one process
        self._version: tuple[int, int] | None = None  # (seq_no, primary_term) of our last write
        self.expires_at: datetime | None = None
        self.acquired_at: datetime | None = None
        self.previous: Holder | None = None  # whom we took an expired lease over from

    @property
    def held(self) -> bool:
        return self._version is not None

    def _document(self, acquired_at: datetime) -> tuple[dict[str, Any], datetime]:
        now = self.clock()
        expires = now + self.duration
        return {
            "owner": self.owner,
            "token": self.token,
            "record_id": self.record_id,
            "acquired_at": to_iso(acquired_at),
            "renewed_at": to_iso(now),
            "expires_at": to_iso(expires),
        }, expires

    def _written(self, response, expires: datetime) -> None:
        self._version = (response["_seq_no"], response["_primary_term"])
        self.expires_at = expires

    def _write_over(self, version: tuple[int, int], acquired_at: datetime) -> None:
        """Write the lease document (acquired at `acquired_at`, expiring a duration from
        now) only over the version (seq_no, primary_term) read or written last: raises
        ConflictError when someone else wrote it since, NotFoundError when it was deleted."""
        document, expires = self._document(acquired_at)
        seq_no, primary_term = version
        response = self.es.index(
            index=self.index,
            id=self.name,
            document=document,
            if_seq_no=seq_no,
            if_primary_term=primary_term,
            refresh=True,
        )
        self._written(response, expires)

    def holder(self) -> tuple[Holder, tuple[int, int]] | None:
        try:
            found = self.es.get(index=self.index, id=self.name)
        except NotFoundError:
            return None
        source = found["_source"]
        holder = Holder(source["owner"], parse_iso(source["expires_at"]), source.get("record_id", ""))
        return holder, (found["_seq_no"], found["_primary_term"])

    def try_acquire(self) -> Holder | None:
        """Take the lease; returns None when taken, else who holds it."""
        now = self.clock()
        document, expires = self._document(now)
        try:
            response = self.es.create(index=self.index, id=self.name, document=document, refresh=True)
            self._written(response, expires)
            self.acquired_at = now
            return None
        except ConflictError:
            pass
        current = self.holder()
        if current is None:  # released between our create and get: try once more
            return self.try_acquire()
        holder, version = current
        if holder.expires_at > now:
            return holder
        try:
            self._write_over(version, now)
        except ConflictError:  # another process took it over first
            current = self.holder()
            return current[0] if current else holder
        self.acquired_at = now
        self.previous = holder
        log.warning("took over lock %r from %s, whose lease had expired", self.name, holder)
        return None

    def renew(self) -> bool:
        """Push the expiry on; False when the lease was lost (taken over, or deleted)."""
        if self._version is None:
            return False
        try:
            self._write_over(self._version, self.acquired_at)
        except (ConflictError, NotFoundError):
            self._version = None
            return False
        return True

    def release(self) -> None:
        if self._version is None:
            return
        seq_no, primary_term = self._version
        self._version = None
        try:
            self.es.delete(index=self.index, id=self.name, if_seq_no=seq_no, if_primary_term=primary_term, refresh=True)
        except (ConflictError, NotFoundError):
            log.warning("lock %r was no longer ours when releasing it", self.name)


class LeaseKeeper:
    """Renews a held lease in a thread; sets `lost` when it cannot be renewed before it
    expires (taken over, or Elasticsearch unreachable for too long), so the work under
    it stops before another process may start."""

    def __init__(self, lease: Lease, every: timedelta, margin: timedelta):
        self.lease, self.every, self.margin = lease, every, margin
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{lease.name}", daemon=True)

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every.total_seconds()):
            try:
                if self.lease.renew():
                    continue
                log.error("lock %r was taken over by another scheduler: stopping this run", self.lease.name)
                self.lost.set()
                return
            except Exception as error:  # unreachable: retried until the lease runs out
                expires = self.lease.expires_at
                if expires is None or self.lease.clock() >= expires - self.margin:
                    log.error("cannot renew lock %r (%s) before it expires: stopping this run", self.lease.name, error)
                    self.lost.set()
                    return
                log.warning("cannot renew lock %r yet (%s); retrying", self.lease.name, error)
