"""What an incremental run reads, decided from a listing and an earlier run's ledger."""

import pytest

from hadoop.increments import (
    FULL,
    INCREMENTAL,
    RunState,
    base_problem,
    decode_ledger,
    encode_ledger,
    plan_run,
)
from hadoop.listing import boundaries, list_objects
from hadoop.retention import runs_to_remove
from pipeline_common.contracts import ContractError
from tests.support.fakes import PagedS3

BASE = RunState(
    run_id="20261128T100000Z",
    mode=FULL,
    interval="hour",
    input_prefix="metadata/",
    listed_at="2026-11-28T10:00:00.000Z",
    objects=2,
    objects_read=2,
)
COUNTED = {"metadata/a.json": "e1", "metadata/b.json": "e2"}


def test_only_new_objects_are_read_on_top_of_the_base():
    plan = plan_run([("metadata/a.json", "e1"), ("metadata/b.json", "e2"), ("metadata/c.json", "e3")], BASE, COUNTED)
    assert (plan.mode, plan.to_read, plan.base_run) == (INCREMENTAL, ["metadata/c.json"], BASE.run_id)


def test_nothing_new_reads_nothing():
    plan = plan_run([("metadata/a.json", "e1"), ("metadata/b.json", "e2")], BASE, COUNTED)
    assert (plan.mode, plan.to_read) == (INCREMENTAL, [])


@pytest.mark.parametrize(
    "listed, changed, gone",
    [
        ([("metadata/a.json", "e1"), ("metadata/b.json", "NEW")], ["metadata/b.json"], []),
        ([("metadata/a.json", "e1"), ("metadata/c.json", "e3")], [], ["metadata/b.json"]),
    ],
)
def test_a_rewritten_or_deleted_counted_object_means_a_full_recount(listed, changed, gone):
    plan = plan_run(listed, BASE, COUNTED)
    assert plan.mode == FULL and plan.base_run is None
    assert plan.to_read == [key for key, _ in listed]
    assert (plan.changed, plan.gone) == (changed, gone)
    expected = f"{len(changed)} object(s) counted by run {BASE.run_id} were rewritten and {len(gone)} deleted"
    assert expected in plan.reason


def test_without_a_base_everything_is_read_and_the_reason_kept():
    plan = plan_run([("metadata/a.json", "e1")], None, None, "no earlier run")
    assert (plan.mode, plan.to_read, plan.reason) == (FULL, ["metadata/a.json"], "no earlier run")


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({}, ""),
        ({"interval": "day"}, "day buckets, this run hour"),
        ({"input_prefix": "other/"}, "read other/"),
        ({"state_version": 0}, "other rules"),
    ],
)
def test_a_base_must_match_the_run(changes, problem):
    state = RunState(**{**BASE.__dict__, **changes})
    found = base_problem(state, "hour", "metadata/")
    assert (problem in found) if problem else found == ""


def test_ledger_and_state_round_trip():
    entries = [("metadata/a.json", "e1"), ("metadata/ü b.json", "e2")]
    assert decode_ledger(encode_ledger(entries)) == dict(entries)
    assert RunState.from_json(BASE.to_json()) == BASE
    with pytest.raises(ValueError, match="tab or newline"):
        encode_ledger([("metadata/a\tb", "e")])
    with pytest.raises(ContractError):
        RunState.from_json(b'{"run_id": 1}')


def test_parallel_listing_finds_every_key_once_in_order():
    keys = [f"metadata/{c}{n}.json" for c in "0123456789abcdef" for n in range(4)]
    keys += ["metadata/1", "metadata/f", "metadata/README", "metadata/zz.json", "metadata/-x.json", "other/a"]
    found = list(list_objects(PagedS3(keys), "b", "metadata/", threads=4))
    expected = sorted(k for k in keys if k.startswith("metadata/"))
    assert [key for key, _ in found] == expected
    assert found[0][1] == expected[0][-6:]  # quotes stripped
    assert boundaries("p/")[0] == "p/1" and len(boundaries("p/")) == 15


def test_runs_beyond_keep_are_removed_oldest_first():
    assert runs_to_remove(["r1", "r2", "r3", "r4"], 2) == ["r1", "r2"]
    assert runs_to_remove(["r1", "r2"], 2) == []
    assert runs_to_remove(["r1", "r2", "r3"], 0) == []
