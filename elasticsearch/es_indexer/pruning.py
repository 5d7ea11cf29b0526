"""Whether an indexed run may delete the buckets it no longer has (pure).

Pruning makes the index equal to the run, which is right only when the run saw all the
input the history in the index came from. It is refused, and the run indexed anyway,
when anything says the run is partial: malformed part lines, records the aggregation
skipped, an input that shrank sharply against the run indexed before (a wrong prefix,
expired objects), or a run that does not say what its input was."""

from __future__ import annotations

from pipeline_common.output_runs import RunInput


def prune_refusal(
    run: RunInput | None,
    previous: RunInput | None,
    skipped_lines: int,
    failed_documents: int,
    min_input_ratio: float,
) -> str:
    """Why this run must not prune ('' when it may)."""
    if failed_documents:
        return f"{failed_documents} document(s) failed"
    if skipped_lines:
        # a malformed line's bucket is unknown: pruning could delete its only count
        return f"{skipped_lines} malformed line(s) skipped"
    if run is None or run.objects is None or run.bad_records is None:
        return "the run does not say how much input it covered (no _run.json with objects and bad_records_total)"
    if run.bad_records:
        return (
            f"the aggregation skipped {run.bad_records} malformed record(s): their buckets may be missing "
            "from run " + run.run_id
        )
    if previous is None or previous.objects is None or previous.objects == 0:
        return ""
    if run.input_prefix and previous.input_prefix and run.input_prefix != previous.input_prefix:
        return (
            f"run {run.run_id} read {run.input_prefix}, the run indexed before ({previous.run_id}) "
            f"{previous.input_prefix}"
        )
    if run.objects < previous.objects * min_input_ratio:
        return (
            f"run {run.run_id} covered {run.objects} input object(s), under {min_input_ratio:g} x the "
            f"{previous.objects} of the run indexed before ({previous.run_id}; INDEXER_PRUNE_MIN_INPUT_RATIO)"
        )
    return ""
