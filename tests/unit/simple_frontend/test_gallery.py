"""The gallery's pure parts: listing parameters, the live-index search, the answer's
shape, thumbnails and their cache; and the image routes over fake S3 and Elasticsearch."""

from __future__ import annotations

import io
import threading
import time
from datetime import datetime, timezone

import pytest
from PIL import Image

from pipeline_common.contracts import live_index
from simple_frontend import gallery
from simple_frontend.app import create_app
from simple_frontend.params import ParamError
from simple_frontend.thumbnails import ThumbnailCache, thumbnail_jpeg
from tests.support.fakes import FakeBody, client_error

NOW = datetime(2025, 4, 14, 9, 30, tzinfo=timezone.utc)
IMAGE_ID = "0123456789abcdef0123456789abcdef"


def jpeg_of(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


# --- parameters -----------------------------------------------------------------------------


def test_listing_parameters_default_to_every_image_newest_first():
    query = gallery.parse_image_query({}, NOW)
    assert query.time_range is None and query.limit == gallery.DEFAULT_LIMIT and query.after is None


def test_listing_parameters_are_checked():
    query = gallery.parse_image_query(
        {
            "from": ["2025-04-14T09:00:00Z"],
            "to": ["2025-04-14T10:00:00Z"],
            "label": ["dog", "traffic light"],
            "source": ["cam-a"],
            "limit": ["5"],
            "after": [f"1744621200000_{IMAGE_ID}"],
        },
        NOW,
    )
    assert query.time_range.start == datetime(2025, 4, 14, 9, tzinfo=timezone.utc)
    assert query.time_range.end == datetime(2025, 4, 14, 10, tzinfo=timezone.utc)  # exact: no widening
    assert query.labels == ("dog", "traffic light") and query.sources == ("cam-a",)
    assert query.limit == 5 and query.after == (1744621200000, IMAGE_ID)


@pytest.mark.parametrize(
    "args",
    [
        {"limit": ["0"]},
        {"limit": ["101"]},
        {"limit": ["ten"]},
        {"after": ["12_ZZZ"]},
        {"after": ["x"]},
        {"label": [""]},
        {"source": ["x" * 1001]},
        {"size": ["3"]},
        {"limit": ["1", "2"]},
        {"from": ["2025-04-14T10:00:00Z"], "to": ["2025-04-14T09:00:00Z"]},
    ],
)
def test_bad_listing_parameters_are_refused(args):
    with pytest.raises(ParamError):
        gallery.parse_image_query(args, NOW)


@pytest.mark.parametrize(
    "image_id",
    [
        "",
        "../metadata/" + IMAGE_ID,
        IMAGE_ID + ".jpg",
        IMAGE_ID.upper(),
        "0123",
        "a" * 65,
        IMAGE_ID + "/",
        "images/" + IMAGE_ID,
        IMAGE_ID + "\x00",
        "%2e%2e%2f" + IMAGE_ID,
        " " + IMAGE_ID,
        "ｆ" * 20,
    ],
)
def test_hostile_image_ids_are_refused(image_id):
    with pytest.raises(ParamError, match="image id"):
        gallery.check_image_id(image_id)


def test_the_search_filters_by_range_source_and_label_and_pages_after_the_cursor():
    query = gallery.parse_image_query(
        {
            "from": ["2025-04-14T09:00:00Z"],
            "to": ["2025-04-14T10:00:00Z"],
            "label": ["dog"],
            "source": ["cam-a"],
            "after": [f"5_{IMAGE_ID}"],
        },
        NOW,
    )
    body = gallery.listing_body(query)
    filters = body["query"]["bool"]["filter"]
    assert {"terms": {"source": ["cam-a"]}} in filters
    assert {"nested": {"path": "counts", "query": {"terms": {"counts.label": ["dog"]}}}} in filters
    assert filters[0]["range"]["captured_at"]["gte"] == "2025-04-14T09:00:00.000Z"
    assert filters[0]["range"]["captured_at"]["lt"] == "2025-04-14T10:00:00.000Z"
    assert body["sort"][0] == {"captured_at": {"order": "desc"}} and body["search_after"] == [5, IMAGE_ID]


# --- the answer -------------------------------------------------------------------------------


def live_source(objects=None, counts=None, **extra):
    source = {
        "image_id": IMAGE_ID,
        "source": "cam-a",
        "captured_at": "2025-04-14T09:10:00.000Z",
        "model": "m",
        "detections": 1,
        live_index.NESTED_PATH: [{"label": label, "detections": n} for label, n in (counts or {}).items()],
        **extra,
    }
    if objects is not None:
        source["objects"] = objects
    return source


def test_an_image_carries_its_boxes_and_where_to_get_it():
    entry = gallery.image_entry(
        live_source([{"label": "dog", "score": 0.9, "box": [1, 2, 3, 4]}], {"dog": 1}, width=640, height=480)
    )
    assert entry["detections"] == [{"label": "dog", "score": 0.9, "box": [1, 2, 3, 4]}]
    assert (entry["width"], entry["height"], entry["counts"]) == (640, 480, {"dog": 1})
    assert entry["thumbnail"] == f"/api/images/{IMAGE_ID}/thumbnail" and entry["full"] == f"/api/images/{IMAGE_ID}/full"


def test_a_document_written_before_boxes_were_kept_says_so():
    assert gallery.image_entry(live_source(None, {"dog": 1}))["detections"] is None
    assert gallery.image_entry(live_source([], {"dog": 1}))["detections"] is None  # counts without boxes
    assert gallery.image_entry(live_source([], {}))["detections"] == []  # nothing was found


def test_a_full_page_says_where_the_next_starts():
    hits = [{"_source": live_source([], {}), "sort": [1000, IMAGE_ID]}]
    answer = gallery.listing_answer(
        {"hits": {"hits": hits, "total": {"value": 7, "relation": "eq"}}}, gallery.ImageQuery(None, limit=1)
    )
    assert answer["next"] == f"1000_{IMAGE_ID}" and answer["total"] == 7
    assert gallery.parse_cursor(answer["next"]) == (1000, IMAGE_ID)
    last = gallery.listing_answer(
        {"hits": {"hits": hits, "total": {"value": 1, "relation": "eq"}}}, gallery.ImageQuery(None, limit=2)
    )
    assert last["next"] is None


# --- thumbnails ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "size", "expected"),
    [
        (1600, 1200, 320, (320, 240)),
        (600, 1800, 300, (100, 300)),
        (200, 100, 320, (200, 100)),
    ],
)
def test_a_thumbnail_is_a_jpeg_within_the_size_never_enlarged(width, height, size, expected):
    data = thumbnail_jpeg(jpeg_of(width, height), size)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.size == expected


def test_concurrent_requests_make_a_thumbnail_once():
    cache, made = ThumbnailCache(1 << 20), []

    def make():
        made.append(1)
        time.sleep(0.05)
        return b"x" * 100

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_make("k", make))) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and len(results) == 10
    assert sorted(hit for _, hit in results) == [False] + [True] * 9


def test_the_cache_stays_within_its_bytes():
    cache = ThumbnailCache(1000)
    for n in range(50):
        cache.get_or_make(n, lambda: b"x" * 300)
    assert cache.size <= 1000
    assert cache.get_or_make(49, lambda: b"new")[1] is True  # the newest stayed
    assert cache.get_or_make(0, lambda: b"new") == (b"new", False)  # the oldest left


def test_a_failed_make_is_not_cached_and_can_be_retried():
    cache = ThumbnailCache(1000)
    with pytest.raises(RuntimeError):
        cache.get_or_make("k", lambda: (_ for _ in ()).throw(RuntimeError("S3 down")))
    assert cache.get_or_make("k", lambda: b"ok") == (b"ok", False)


# --- the routes, over fakes ----------------------------------------------------------------------


class Bucket:
    """A fake S3 holding some objects; records every key asked for."""

    def __init__(self, objects):
        self.objects, self.asked = objects, []

    def get_object(self, Bucket, Key):
        self.asked.append(Key)
        if Key not in self.objects:
            raise client_error("NoSuchKey", 404)
        data = self.objects[Key]
        body = FakeBody(data)
        body.iter_chunks = lambda size: iter([data])
        return {"Body": body, "ContentLength": len(data)}


@pytest.fixture
def fake_s3():
    return Bucket({f"images/{IMAGE_ID}.jpg": jpeg_of(1280, 960), f"metadata/{'f' * 32}.jpg": jpeg_of(10, 10)})


@pytest.fixture
def images_client(fake_es, settings, fake_s3):
    app = create_app(
        {
            "FRONTEND_SETTINGS": settings,
            "ES_CLIENT": fake_es,
            "CLOCK": lambda: NOW,
            "ES_INDEX": "counts-test",
            "S3_CLIENT": fake_s3,
            "S3_BUCKET": "bucket",
        }
    )
    return app.test_client()


def test_a_thumbnail_is_served_once_made_and_then_from_the_cache(images_client, fake_s3):
    first = images_client.get(f"/api/images/{IMAGE_ID}/thumbnail?size=200")
    assert first.status_code == 200 and first.mimetype == "image/jpeg"
    assert first.headers["X-Thumbnail-Cache"] == "miss"
    with Image.open(io.BytesIO(first.data)) as image:
        assert max(image.size) == 200
    again = images_client.get(f"/api/images/{IMAGE_ID}/thumbnail?size=200")
    assert again.headers["X-Thumbnail-Cache"] == "hit" and fake_s3.asked == [f"images/{IMAGE_ID}.jpg"]
    unchanged = images_client.get(
        f"/api/images/{IMAGE_ID}/thumbnail?size=200", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert unchanged.status_code == 304


def test_the_full_image_is_the_original(images_client, fake_s3):
    answer = images_client.get(f"/api/images/{IMAGE_ID}/full")
    assert answer.status_code == 200 and answer.data == fake_s3.objects[f"images/{IMAGE_ID}.jpg"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/api/images/{'e' * 32}/thumbnail", 404),  # well-formed, not stored
        (f"/api/images/{'f' * 32}/full", 404),  # only outside images/
        (f"/api/images/{IMAGE_ID}/thumbnail?size=641", 400),
        (f"/api/images/{IMAGE_ID}/thumbnail?size=0", 400),
        (f"/api/images/{IMAGE_ID}/thumbnail?size=full", 400),
        (f"/api/images/{IMAGE_ID}/thumbnail?width=10", 400),
        (f"/api/images/..%2Fmetadata%2F{'f' * 32}/full", 400),
        (f"/api/images/{IMAGE_ID}.jpg/full", 400),
        (f"/api/images/{IMAGE_ID.upper()}/full", 400),
    ],
)
def test_unknown_malformed_and_hostile_requests(images_client, fake_s3, path, status):
    answer = images_client.get(path)
    assert answer.status_code == status, answer.data
    assert "error" in answer.get_json()
    assert all(key.startswith("images/") for key in fake_s3.asked)


def test_without_s3_keys_the_image_routes_say_what_is_missing(client):
    answer = client.get(f"/api/images/{IMAGE_ID}/thumbnail")
    assert answer.status_code == 503 and "FRONTEND_S3_ACCESS_KEY" in answer.get_json()["error"]
