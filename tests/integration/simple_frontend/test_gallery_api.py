"""The gallery's API against the real Elasticsearch and S3, read with the dashboard's own
accounts: listing and its filters, thumbnails, full images, and what must stay out of reach."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from pipeline_common.clients import s3_client
from pipeline_common.timestamps import to_iso, utc_now

from .gallery_support import (
    PHOTOS,
    event,
    gallery_app,
    index_events,
    new_image_id,
    small_jpeg,
)

BOX = (10, 20, 100, 80)


@pytest.fixture(scope="module")
def scene(es, stored, gallery_live_prefix):
    """Six images over three hours, two cameras, dogs and people; the newest first in `ids`."""
    start = utc_now().replace(microsecond=0) - timedelta(hours=3)
    rows = [  # minutes after start, source, labels
        (5, "cam-a", ["dog"]),
        (20, "cam-b", ["person", "person"]),
        (70, "cam-a", ["person", "dog"]),
        (95, "cam-b", []),
        (130, "cam-a", ["dog"]),
        (150, "cam-b", ["dog", "person"]),
    ]
    events = []
    for minutes, source, labels in rows:
        image_id = stored.put(small_jpeg())
        events.append(
            event(
                image_id,
                source,
                start + timedelta(minutes=minutes),
                [(label, 0.5 + 0.1 * n, BOX) for n, label in enumerate(labels)],
            )
        )
    index_events(es, gallery_live_prefix, events)
    return {"start": start, "events": events}


@pytest.fixture(scope="module")
def api(api_es_settings, gallery_live_prefix, dashboard_s3_settings):
    return gallery_app(api_es_settings, gallery_live_prefix, dashboard_s3_settings).test_client()


def ids_of(events):
    return [e.image_id for e in sorted(events, key=lambda e: e.captured_at, reverse=True)]


def listed(api, query: str = "", status: int = 200):
    answer = api.get(f"/api/images{query}")
    assert answer.status_code == status, answer.get_data(as_text=True)
    return answer.get_json()


def test_the_newest_images_come_first_with_their_detections(api, scene):
    body = listed(api)
    assert [image["id"] for image in body["images"]] == ids_of(scene["events"])
    newest = body["images"][0]
    assert newest["source"] == "cam-b" and newest["width"] == 320 and newest["height"] == 240
    assert newest["detections"] == [
        {"label": "dog", "score": 0.5, "box": list(BOX)},
        {"label": "person", "score": 0.6, "box": list(BOX)},
    ]
    assert newest["counts"] == {"dog": 1, "person": 1}
    assert body["total"] == 6 and body["next"] is None


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ("?source=cam-a", lambda e: e.source == "cam-a"),
        ("?label=dog", lambda e: "dog" in e.counts),
        ("?label=person&source=cam-b", lambda e: "person" in e.counts and e.source == "cam-b"),
        ("?label=dog&label=person", lambda e: bool(e.counts)),
        ("?label=cat", lambda e: False),
    ],
)
def test_the_listing_filters_by_source_and_label(api, scene, query, wanted):
    body = listed(api, query)
    assert [image["id"] for image in body["images"]] == ids_of([e for e in scene["events"] if wanted(e)])


def test_the_listing_filters_by_time_range_exactly(api, scene):
    # the image at 130 minutes is out: `to` is excluded
    low, high = scene["start"] + timedelta(hours=1), scene["start"] + timedelta(minutes=130)
    body = listed(api, f"?from={to_iso(low)}&to={to_iso(high)}")
    inside = [e for e in scene["events"] if low <= e.captured_at < high]
    assert [image["id"] for image in body["images"]] == ids_of(inside) and len(inside) == 2


def test_pages_follow_one_another_without_gaps_or_repeats(api, scene):
    seen, after = [], ""
    for _ in range(4):
        body = listed(api, f"?limit=4{after}")
        seen += [image["id"] for image in body["images"]]
        if body["next"] is None:
            break
        after = f"&after={body['next']}"
    assert seen == ids_of(scene["events"])


@pytest.mark.parametrize(
    "query",
    ["?limit=0", "?limit=500", "?after=bogus", "?label=", "?from=yesterday", "?page=2", "?source=" + "x" * 1001],
)
def test_bad_listing_parameters_get_400(api, scene, query):
    assert "error" in listed(api, query, status=400)


def test_a_thumbnail_is_a_jpeg_no_larger_than_the_limit(api, stored):
    original = (PHOTOS / "dog.jpg").read_bytes()
    image_id = stored.put(original)
    for query, most in (("", 320), ("?size=640", 640), ("?size=100", 100)):
        answer = api.get(f"/api/images/{image_id}/thumbnail{query}")
        assert answer.status_code == 200 and answer.mimetype == "image/jpeg"
        with Image.open(io.BytesIO(answer.data)) as thumbnail:
            assert thumbnail.format == "JPEG" and max(thumbnail.size) == most
        assert len(answer.data) < len(original)
    assert api.get(f"/api/images/{image_id}/thumbnail?size=641").status_code == 400


def test_a_thumbnail_is_made_once_then_served_from_the_cache(api, stored):
    image_id = stored.put(small_jpeg(800, 600))
    first = api.get(f"/api/images/{image_id}/thumbnail?size=200")
    second = api.get(f"/api/images/{image_id}/thumbnail?size=200")
    assert (first.headers["X-Thumbnail-Cache"], second.headers["X-Thumbnail-Cache"]) == ("miss", "hit")
    assert first.data == second.data


def test_the_full_image_is_the_stored_original(api, stored):
    original = (PHOTOS / "person.jpg").read_bytes()
    image_id = stored.put(original)
    answer = api.get(f"/api/images/{image_id}/full")
    assert answer.status_code == 200 and answer.mimetype == "image/jpeg" and answer.data == original


@pytest.mark.parametrize(
    "path",
    [
        "/api/images/{unknown}/thumbnail",
        "/api/images/{unknown}/full",
    ],
)
def test_an_unknown_image_gets_404(api, path):
    answer = api.get(path.format(unknown=new_image_id()))
    assert answer.status_code == 404 and answer.get_json() == {"error": "no such image"}


@pytest.mark.parametrize(
    "image_id",
    [
        "..%2Fmetadata%2F{id}",
        "..%2F..%2Fimage-pipeline%2Fmetadata%2F{id}",
        "{id}.jpg",
        "{ID}",
        "{id}%00",
        "{id}%2F..%2F..%2Fmetadata%2F{id}",
        "abc",
        "x" * 64,
        "%2E%2E",
        "{id}%2F",
    ],
)
def test_malformed_and_hostile_ids_get_400(api, image_id):
    some = new_image_id()
    path = image_id.format(id=some, ID=some.upper())
    for kind in ("thumbnail", "full"):
        answer = api.get(f"/api/images/{path}/{kind}")
        assert answer.status_code == 400, (path, answer.get_data(as_text=True))
    # Flask merges the double slash (a redirect), and what it lands on is no id either
    assert api.get("/api/images//etc/passwd/full", follow_redirects=True).status_code == 400


def test_nothing_outside_images_can_be_reached(api, stored, s3_settings, dashboard_s3_settings):
    """An image id whose object exists only outside images/ is unknown to the API; and the
    dashboard's own S3 keys could not read it even if the API asked."""
    image_id = new_image_id()
    for key in (f"metadata/{image_id}.jpg", f"thumbnails/{image_id}.jpg", f"{image_id}.jpg", f"imagesx/{image_id}.jpg"):
        stored.put(small_jpeg(), image_id=image_id, key=key)
    for kind in ("thumbnail", "full"):
        assert api.get(f"/api/images/{image_id}/{kind}").status_code == 404
    dashboard = s3_client(dashboard_s3_settings)
    for key in (f"metadata/{image_id}.jpg", f"thumbnails/{image_id}.jpg", f"imagesx/{image_id}.jpg"):
        with pytest.raises(ClientError, match="AccessDenied"):
            dashboard.get_object(Bucket=s3_settings.bucket, Key=key)
    with pytest.raises(ClientError, match="AccessDenied"):
        dashboard.put_object(Bucket=s3_settings.bucket, Key=f"images/{image_id}.jpg", Body=b"x")
    with pytest.raises(ClientError, match="AccessDenied"):
        dashboard.list_objects_v2(Bucket=s3_settings.bucket, Prefix="images/")
