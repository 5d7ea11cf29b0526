"""When an indexed run may delete the buckets it no longer has."""

import pytest

from es_indexer.pruning import prune_refusal
from pipeline_common.output_runs import RunInput

PREVIOUS = RunInput("20261128T090000Z", objects=1000, bad_records=0, input_prefix="metadata/")


def run(objects=1000, bad=0, prefix="metadata/"):
    return RunInput("20261128T100000Z", objects=objects, bad_records=bad, input_prefix=prefix)


def test_a_complete_run_over_as_much_input_prunes():
    assert prune_refusal(run(), PREVIOUS, 0, 0, 0.5) == ""
    assert prune_refusal(run(objects=1200), PREVIOUS, 0, 0, 0.5) == ""
    assert prune_refusal(run(objects=500), PREVIOUS, 0, 0, 0.5) == ""  # at the threshold


def test_the_first_run_has_nothing_to_compare_with():
    assert prune_refusal(run(objects=3), None, 0, 0, 0.5) == ""


@pytest.mark.parametrize(
    ("this", "skipped_lines", "failed", "words"),
    [
        (run(objects=499), 0, 0, "covered 499 input object(s), under 0.5 x the 1000"),
        (run(objects=0), 0, 0, "covered 0 input object(s)"),
        (run(bad=2), 0, 0, "skipped 2 malformed record(s)"),
        (run(), 3, 0, "3 malformed line(s) skipped"),
        (run(), 0, 4, "4 document(s) failed"),
        (None, 0, 0, "does not say how much input"),
        (RunInput("20261128T100000Z", None, None), 0, 0, "does not say how much input"),
        (run(prefix="metadata/cam-1/"), 0, 0, "read metadata/cam-1/, the run indexed before"),
    ],
    ids=[
        "input shrank",
        "empty input",
        "records skipped",
        "lines skipped",
        "documents failed",
        "no _run.json",
        "_run.json without counts",
        "another prefix",
    ],
)
def test_a_partial_looking_run_does_not_prune(this, skipped_lines, failed, words):
    assert words in prune_refusal(this, PREVIOUS, skipped_lines, failed, 0.5)


def test_a_ratio_of_zero_turns_the_shrink_check_off():
    assert prune_refusal(run(objects=1), PREVIOUS, 0, 0, 0.0) == ""
