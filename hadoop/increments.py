"""Incremental runs: what an earlier run counted, and what this run must read.

Every complete run leaves, beside its `part-*` totals, a ledger of the metadata objects
it counted (key and ETag, `_ledger.tsv.gz`) and a description of itself (`_run.json`).
A new run lists the input, compares the listing with the newest usable run's ledger and
reads only the objects that are not in it; the job adds their counts to that run's
totals. When anything the earlier run counted was rewritten or deleted, adding is not
enough (its old contribution is unknown), so the run recounts everything.

Pure logic here; the S3 side is in `run_state.py`.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict, dataclass, field
from typing import Iterable, Mapping

from pipeline_common.contracts import ContractError
from pipeline_common.output_runs import RUN_STATE_NAME

LEDGER_NAME = "_ledger.tsv.gz"
STATE_NAME = RUN_STATE_NAME  # the indexer reads it too (pipeline_common.output_runs.RunInput)
STATE_VERSION = 1  # bump when the counting rules change: older runs are then no base

FULL = "full"
INCREMENTAL = "incremental"


@dataclass(frozen=True)
class RunState:
    """`_run.json`: how a run was made, so a later run can decide whether to build on it."""

    run_id: str
    mode: str  # full | incremental
    interval: str
    input_prefix: str
    listed_at: str  # ISO time the listing started: objects written before are counted
    objects: int  # objects in the ledger (listed, read now or by an earlier run)
    objects_read: int  # objects this run read
    base_run: str | None = None
    reason: str = ""  # why a full recount, when it was one
    state_version: int = STATE_VERSION
    bad_records: int = 0  # malformed records this run skipped
    bad_records_total: int = 0  # ... and the runs it built on skipped: missing from its totals
    source: str = "metadata"  # metadata: objects in the ledger; archive: hour files (hadoop/archive.py)
    images: int = 0  # archive: image ids in _images.txt.gz

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, indent=1).encode("utf-8")

    @classmethod
    def from_json(cls, payload: bytes | str) -> "RunState":
        try:
            data = json.loads(payload)
            return cls(**data)
        except (ValueError, TypeError) as error:
            raise ContractError(f"run state: {error}") from None


def encode_ledger(entries: Iterable[tuple[str, str]]) -> bytes:
    """`key<TAB>etag` lines, gzip-compressed. Keys never hold tabs or newlines here
    (S3 keys can, so such a key is refused rather than written ambiguously)."""
    lines = []
    for key, etag in entries:
        if "\t" in key or "\n" in key:
            raise ValueError(f"cannot record key {key!r} in the ledger (tab or newline)")
        lines.append(f"{key}\t{etag}\n")
    return gzip.compress("".join(lines).encode("utf-8"), compresslevel=5)


def decode_ledger(payload: bytes) -> dict[str, str]:
    counted: dict[str, str] = {}
    for number, line in enumerate(gzip.decompress(payload).decode("utf-8").splitlines(), start=1):
        key, tab, etag = line.partition("\t")
        if not tab:
            raise ContractError(f"ledger line {number}: expected key<TAB>etag, got {line!r}")
        counted[key] = etag
    return counted


@dataclass
class Plan:
    """What one run reads: every listed object (full) or only new ones on top of a base."""

    mode: str
    to_read: list[str]  # keys
    base_run: str | None = None
    reason: str = ""
    changed: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


def plan_run(
    listed: list[tuple[str, str]],
    base: RunState | None,
    counted: Mapping[str, str] | None,
    no_base_reason: str = "",
) -> Plan:
    """Compare the listing with the base run's ledger.

    - new keys (not in the ledger) are read and added to the base's totals;
    - a key whose ETag changed (rewritten, e.g. the consumer processed the image again)
      or a ledger key no longer listed (deleted) makes the run a full recount: the
      ledger says what was counted, not what each object contributed."""
    everything = [key for key, _ in listed]
    if base is None or counted is None:
        return Plan(FULL, everything, reason=no_base_reason or "full recount asked for")
    new, changed = [], []
    seen = 0
    for key, etag in listed:
        previous = counted.get(key)
        if previous is None:
            new.append(key)
        else:
            seen += 1
            if previous != etag:
                changed.append(key)
    gone = [] if seen == len(counted) else sorted(set(counted) - {key for key, _ in listed})
    if changed or gone:
        reason = f"{len(changed)} object(s) counted by run {base.run_id} were rewritten and {len(gone)} deleted since"
        return Plan(FULL, everything, reason=reason, changed=changed, gone=gone)
    return Plan(INCREMENTAL, new, base_run=base.run_id)


def base_problem(state: RunState, interval: str, input_prefix: str, source: str = "metadata") -> str:
    """Why a run cannot be the base of this one ('' when it can)."""
    if state.source != source:
        return f"run {state.run_id} read the {state.source}, this run the {source}"
    if state.state_version != STATE_VERSION:
        return f"run {state.run_id} was counted by other rules (state version {state.state_version})"
    if state.interval != interval:
        return f"run {state.run_id} has {state.interval} buckets, this run {interval}"
    if state.input_prefix != input_prefix:
        return f"run {state.run_id} read {state.input_prefix}, this run {input_prefix}"
    return ""
