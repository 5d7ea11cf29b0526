"""The seam between batch and live: a run's watermark, the cutoff, final buckets."""

from datetime import datetime, timedelta, timezone

import pytest

from pipeline_common.contracts import ContractError, Interval
from pipeline_common.watermark import batch_cutoff, is_final, run_watermark

UTC = timezone.utc


def test_the_watermark_is_the_instant_the_run_id_names():
    assert run_watermark("20261128T120501Z") == datetime(2026, 11, 28, 12, 5, 1, tzinfo=UTC)
    assert run_watermark("20261128T120501Z-nightly") == datetime(2026, 11, 28, 12, 5, 1, tzinfo=UTC)


def test_a_run_id_that_is_not_one_is_refused():
    with pytest.raises(ContractError):
        run_watermark("test-run")


@pytest.mark.parametrize(
    "interval, lateness, expected",
    [
        (Interval.HOUR, timedelta(0), datetime(2026, 11, 28, 12, tzinfo=UTC)),
        (Interval.HOUR, timedelta(minutes=10), datetime(2026, 11, 28, 11, tzinfo=UTC)),  # 11:55 -> 11:00
        (Interval.MINUTE, timedelta(minutes=10), datetime(2026, 11, 28, 11, 55, tzinfo=UTC)),
        (Interval.DAY, timedelta(minutes=10), datetime(2026, 11, 28, tzinfo=UTC)),
    ],
)
def test_the_cutoff_is_the_start_of_the_bucket_holding_watermark_minus_lateness(interval, lateness, expected):
    assert batch_cutoff("20261128T120501Z", interval, lateness) == expected


def test_no_run_no_cutoff_and_lateness_is_never_negative():
    assert batch_cutoff(None, Interval.HOUR) is None
    with pytest.raises(ValueError):
        batch_cutoff("20261128T120501Z", Interval.HOUR, timedelta(seconds=-1))


def test_a_bucket_is_final_only_when_it_ends_by_the_cutoff():
    cutoff = datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert is_final(datetime(2026, 11, 28, 11, tzinfo=UTC), Interval.HOUR, cutoff)
    assert not is_final(datetime(2026, 11, 28, 12, tzinfo=UTC), Interval.HOUR, cutoff)
    # a day that the cutoff cuts is live as a whole
    assert not is_final(datetime(2026, 11, 28, tzinfo=UTC), Interval.DAY, cutoff)
    assert is_final(datetime(2026, 11, 27, tzinfo=UTC), Interval.DAY, cutoff)
    assert not is_final(datetime(2020, 1, 1, tzinfo=UTC), Interval.HOUR, None)
