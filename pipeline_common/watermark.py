"""Where the batch view ends and the live view begins (the lambda architecture's seam).

An aggregation run reads every metadata record in S3 when it starts, and its run id is
that start time (`20261128T120000Z`, see `output_runs`): the run's **watermark**. Images
captured before it were, as a rule, processed before it and are in the run; images
captured after it can only be in the live indices.

The API answers a stored bucket from the batch index when the whole bucket lies before
the **cutoff**: the watermark, less an allowance for images processed a little after
their capture (camera upload delay, a consumer backlog), rounded down to the start of a
bucket. Every bucket from the cutoff on is answered from the live indices and marked live.
Once a newer run is indexed, the cutoff moves forward and those buckets become final.

Pure functions shared by the batch side (scheduler, run records) and the API.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .contracts import Interval, bucket_start
from .output_runs import check_run_id


def run_watermark(run_id: str) -> datetime:
    """The instant a run started reading its input: the UTC time its id names."""
    check_run_id(run_id)
    return datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def batch_cutoff(run_id: str | None, interval: Interval, lateness: timedelta = timedelta(0)) -> datetime | None:
    """Start of the first `interval` bucket the run `run_id` does not answer for; None
    when no run is indexed (then every bucket is live)."""
    if run_id is None:
        return None
    if lateness < timedelta(0):
        raise ValueError(f"lateness must not be negative, got {lateness}")
    return bucket_start(run_watermark(run_id) - lateness, interval)


def is_final(start: datetime, interval: Interval, cutoff: datetime | None) -> bool:
    """True when the bucket [start, start + interval) is wholly answered by the batch run."""
    return cutoff is not None and start + interval.length <= cutoff
