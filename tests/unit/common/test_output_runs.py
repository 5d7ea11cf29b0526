"""Run ids and prefixes of the aggregation output (pipeline_common.output_runs)."""

from datetime import datetime, timedelta, timezone

import pytest

from pipeline_common.contracts import ContractError
from pipeline_common.output_runs import check_run_id, is_part_key, new_run_id, run_prefix


def test_run_id_is_the_utc_time():
    moment = datetime(2026, 11, 28, 13, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    assert new_run_id(moment) == "20261128T120005Z"


def test_newer_runs_sort_after_older_ones():
    ids = [
        new_run_id(datetime(2026, m, d, h, tzinfo=timezone.utc))
        for m, d, h in [(1, 2, 3), (11, 28, 9), (2, 1, 0), (11, 28, 10)]
    ]
    assert sorted(ids) == ["20260102T030000Z", "20260201T000000Z", "20261128T090000Z", "20261128T100000Z"]


@pytest.mark.parametrize("run_id", ["20261128T120000Z", "20261128T120000Z-retry.2"])
def test_valid_run_ids(run_id):
    assert run_prefix("mapreduce-output/", run_id) == f"mapreduce-output/{run_id}/"


@pytest.mark.parametrize("run_id", ["", "latest", "20261128", "20261128T120000Z/..", "../x", None])
def test_invalid_run_ids(run_id):
    with pytest.raises(ContractError):
        check_run_id(run_id)


@pytest.mark.parametrize("prefix", ["", "/abs/", "no-slash", "a/../b/"])
def test_invalid_prefixes(prefix):
    with pytest.raises(ContractError):
        run_prefix(prefix, "20261128T120000Z")


def test_part_keys():
    assert is_part_key("mapreduce-output/20261128T120000Z/part-00000")
    assert not is_part_key("mapreduce-output/20261128T120000Z/_SUCCESS")
    assert not is_part_key("mapreduce-output/part-x/_SUCCESS")
