"""The detection archive's layout and the aggregation's plan over it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from archiver.compact import is_closed, merge
from hadoop.archive import GET_COST_BYTES, MIN_SPLIT_BYTES, ledger_entries, list_archive, plan_files, splits
from hadoop.object_counts_job import latest_events
from pipeline_common.contracts import ContractError
from pipeline_common.contracts.detection_archive import (
    backfill_key,
    compact_key,
    decode_file,
    encode_file,
    hour_prefixes,
    is_archive_file,
    key_hour,
    part_key,
)

T = datetime(2026, 11, 28, 10, 30, tzinfo=timezone.utc)


def test_keys_name_their_hour_and_sort_by_partition_and_offset():
    keys = [part_key("d/", T, 2, 10), part_key("d/", T, 2, 9), part_key("d/", T, 10, 0)]
    assert sorted(keys) == [keys[1], keys[0], keys[2]]
    assert key_hour(keys[0]) == datetime(2026, 11, 28, 10, tzinfo=timezone.utc)
    assert key_hour(backfill_key("d/", T + timedelta(hours=20), 3)) == datetime(2026, 11, 29, 6, tzinfo=timezone.utc)
    assert not is_archive_file("d/date=2026-11-28/hour=10/notes.txt") and not is_archive_file("d/x.jsonl.gz")
    with pytest.raises(ContractError):
        key_hour("d/date=2026-13-28/hour=10/part-1.jsonl.gz")


def test_hour_prefixes_cover_both_ends():
    assert hour_prefixes("d/", T, T + timedelta(minutes=45)) == [
        "d/date=2026-11-28/hour=10/",
        "d/date=2026-11-28/hour=11/",
    ]


def test_files_round_trip_and_refuse_multi_line_events():
    assert decode_file(encode_file([b'{"a":1}', b'{"b":2}'])) == [b'{"a":1}', b'{"b":2}']
    with pytest.raises(ContractError):
        encode_file([b"a\nb"])
    with pytest.raises(ContractError):
        decode_file(b"not gzip")


def listed(*keys, etag="e"):
    return [(key, etag) for key in keys]


def test_an_incremental_plan_reads_only_new_files():
    old, new = part_key("d/", T, 0, 0), part_key("d/", T, 0, 5)
    plan = plan_files(listed(old, new), T - timedelta(hours=2), "run1", {old: "e"})
    assert plan.mode == "incremental" and plan.to_read == [new] and plan.base_run == "run1"


def test_a_rewritten_or_vanished_file_in_the_window_means_a_full_recount():
    old, new = part_key("d/", T, 0, 0), part_key("d/", T, 0, 5)
    assert plan_files(listed(old, new, etag="f"), T, "run1", {old: "e"}).mode == "full"
    assert plan_files(listed(new), T, "run1", {old: "e"}).mode == "full"


def test_the_ledger_keeps_only_the_hours_a_later_run_lists_again():
    files = listed(part_key("d/", T - timedelta(hours=3), 0, 0), part_key("d/", T, 0, 1))
    assert ledger_entries(files, T - timedelta(hours=1)) == [files[1]]


def test_files_are_shared_out_among_map_tasks_by_weight():
    small = [f"k{n:04d}" for n in range(30)]  # an increment: one task
    assert splits(small, {k: 500 for k in small}, 8) == [small]
    assert splits([], {}, 8) == [[]]
    hours = [f"h{n:02d}" for n in range(48)]  # a compacted history of 48 large files, two cores
    groups = splits(hours, {k: 2 * MIN_SPLIT_BYTES for k in hours}, 2)
    assert [len(g) for g in groups] == [24, 24] and [k for g in groups for k in g] == hours
    many = [f"p{n:05d}" for n in range(8000)]  # the archiver's small files: their GETs weigh
    groups = splits(many, {k: 400 for k in many}, 8)
    assert len(groups) == 8 and {len(g) for g in groups} == {1000}
    assert 8000 * (400 + GET_COST_BYTES) > 8 * MIN_SPLIT_BYTES


def test_an_image_counts_as_its_latest_event():
    def event(image, minute, uri="s3://b/f", number=0):
        processed_us = int((T + timedelta(minutes=minute)).timestamp() * 1e6)
        return [image, processed_us, uri, number, [["person", "c", image, minute]]]

    one = [event("a", 1), event("a", 5, number=1), event("b", 2)]
    two = [event("a", 3, uri="s3://b/g"), event("a", 5, uri="s3://b/a", number=7)]
    latest, replaced = latest_events([one, two])
    # the latest time wins; at the same time the later file name ("f" > "a")
    assert latest == {"a": [["person", "c", "a", 5]], "b": [["person", "c", "b", 2]]} and replaced == 3
    assert latest_events([[event("b", 2)]]) == ({"b": [["person", "c", "b", 2]]}, 0)


def test_a_merged_hour_holds_each_distinct_event_once_under_a_name_of_its_content():
    a, b, c = b'{"e":1}', b'{"e":2}', b'{"e":3}'
    digest, chunks = merge([encode_file([b, a]), encode_file([a, c])], per_file=2)
    assert chunks == [[a, b], [c]]
    assert merge([encode_file([c, b, a])], per_file=2) == (digest, chunks)  # same events, same name
    assert merge([encode_file([a, b])])[0] != digest
    key = compact_key("d/", T, digest, 1)
    assert key == f"d/date=2026-11-28/hour=10/compact-{digest}-00001.jsonl.gz" and key_hour(key) == T.replace(minute=0)
    with pytest.raises(ContractError):
        merge([encode_file([a]), b"not gzip"])
    with pytest.raises(ContractError):
        compact_key("d/", T, "../x", 0)


def test_an_hour_is_closed_once_it_ended_min_age_ago():
    hour = T.replace(minute=0)
    assert is_closed(hour, hour + timedelta(hours=4), timedelta(hours=3))
    assert not is_closed(hour, hour + timedelta(hours=4) - timedelta(seconds=1), timedelta(hours=3))


class ListingS3:
    """Just enough of S3's listing for `list_archive`: one page per request, folders by delimiter."""

    def __init__(self, keys):
        self.keys = sorted(keys)
        self.prefixes: list[str] = []

    def list_objects_v2(self, Bucket, Prefix="", **options):
        self.prefixes.append(Prefix)
        return {
            "Contents": [{"Key": k, "ETag": '"e"'} for k in self.keys if k.startswith(Prefix)],
            "IsTruncated": False,
        }

    def get_paginator(self, _name):
        keys = self.keys

        class Pages:
            def paginate(self, Bucket, Prefix, Delimiter):
                below = {k[len(Prefix) :].split(Delimiter)[0] for k in keys if k.startswith(Prefix)}
                yield {"CommonPrefixes": [{"Prefix": f"{Prefix}{name}/"} for name in sorted(below)]}

        return Pages()


def test_listing_the_whole_archive_or_only_the_recent_hours():
    old, recent = part_key("d/", T - timedelta(days=3), 0, 0), part_key("d/", T, 1, 7)
    nested = "d/other/" + part_key("", T, 0, 0)  # another archive, in a folder below this one
    s3 = ListingS3([old, recent, nested, "d/READY"])
    assert list_archive(s3, "b", "d/", None, T) == [(old, "e"), (recent, "e")]
    s3.prefixes.clear()
    assert list_archive(s3, "b", "d/", T - timedelta(hours=1), T) == [(recent, "e")]
    assert sorted(s3.prefixes) == [f"d/date=2026-11-28/hour={hour}/" for hour in ("09", "10", "11")]
