"""The gallery in headless Chromium, served by the real app over the real Elasticsearch
and S3 with the dashboard's own accounts: a real sample photo with the boxes the real
detector drew on it, the score slider, the full image, and a timeline point's images."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from PIL import Image

from consumer.app import load_detector
from consumer.processing import build_record
from consumer.settings import ConsumerSettings
from pipeline_common.contracts import detection_event_from_record
from pipeline_common.environment import PROJECT_ROOT
from pipeline_common.timestamps import utc_now
from tests.support.records import announcement

from .browser_support import TIMEOUT_MS, offline_page, serving
from .gallery_support import (
    PHOTOS,
    event,
    gallery_app,
    index_events,
    new_image_id,
    small_jpeg,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.model]

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
SOURCE = "gallery-cam"


@pytest.fixture(scope="module")
def photos(pipeline_env, es, stored, s3_settings, gallery_live_prefix):
    """dog.jpg as the pipeline sees it: stored, run through the real detector, its event
    indexed as the live indexer does; and a small image with one person, two hours earlier."""
    now = utc_now().replace(second=0, microsecond=0)
    data = (PHOTOS / "dog.jpg").read_bytes()
    dog_id = stored.put(data)
    detector = load_detector(ConsumerSettings.from_env(pipeline_env))
    with Image.open(PHOTOS / "dog.jpg") as photo:
        width, height = photo.size
        pixels = np.ascontiguousarray(np.asarray(photo.convert("RGB"))[:, :, ::-1])
    record = build_record(
        announcement(dog_id, s3_settings.bucket, source=SOURCE, moment=now - timedelta(minutes=20)),
        detector.detect(pixels),
        detector.model_info,
        width,
        height,
        {},
        now,
    )
    dog = detection_event_from_record(record)
    assert "dog" in dog.counts, f"the detector should find the dog in dog.jpg: {dog.counts}"
    person_id = stored.put(small_jpeg(400, 300, (40, 160, 90)))
    person = event(
        person_id,
        SOURCE,
        now - timedelta(hours=2, minutes=10),
        [("person", 0.8, (50, 40, 200, 220))],
        width=400,
        height=300,
    )
    index_events(es, gallery_live_prefix, [dog, person])
    return {"dog": dog, "person": person}


@pytest.fixture(scope="module")
def server(api_es_settings, gallery_live_prefix, dashboard_s3_settings, photos):
    with serving(gallery_app(api_es_settings, gallery_live_prefix, dashboard_s3_settings)) as url:
        yield url


@pytest.fixture
def page(browser, server):
    with offline_page(browser, server, height=1200) as page:
        page.goto(server)
        # the first load waits for the dashboard's first refresh (slow on a busy machine)
        page.wait_for_function("window.gallery && window.gallery.state.renders > 0", timeout=3 * TIMEOUT_MS)
        yield page


def figure(page, image_id: str):
    shot = page.locator(f'#gallery figure[data-image-id="{image_id}"]')
    shot.wait_for()
    page.wait_for_function(
        f'document.querySelector(\'#gallery figure[data-image-id="{image_id}"]\').dataset.loaded === "true"'
    )
    return shot


def box_pixel(page, image_id: str, box) -> list[int]:
    """The RGBA of the overlay canvas on the middle of the box's left edge."""
    return page.evaluate(
        """([id, box]) => {
        const fig = document.querySelector(`#gallery figure[data-image-id="${id}"]`);
        const img = fig.querySelector("img"), canvas = fig.querySelector("canvas");
        const image = window.gallery.state.images.find((i) => i.id === id);
        const ratio = canvas.width / img.clientWidth, scale = img.clientWidth / image.width;
        const x = Math.round(box[0] * scale * ratio), y = Math.round((box[1] + box[3] / 2) * scale * ratio);
        return Array.from(canvas.getContext("2d").getImageData(x, y, 1, 1).data);
    }""",
        [image_id, list(box)],
    )


# each of a caption's source and time: its text and how many lines it takes
LINES = """(figure) => [...figure.querySelectorAll(".shot-head > *")].map((el) => [el.textContent,
    Math.round(el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight))])"""


def test_the_gallery_shows_the_sample_photo_with_the_detectors_boxes(page, photos):
    dog = photos["dog"]
    shot = figure(page, dog.image_id)
    shown = shot.get_attribute("data-shown-labels").split(",")
    assert sorted(shown) == sorted(obj.label for obj in dog.objects) and "dog" in shown
    caption = shot.locator(".shot-labels").inner_text()
    best_dog = max((obj for obj in dog.objects if obj.label == "dog"), key=lambda obj: obj.score)
    assert f"dog {round(best_dog.score * 100)}%" in caption
    assert box_pixel(page, dog.image_id, best_dog.box)[3] == 255  # a box is drawn there
    assert page.locator("#bucket-bar").is_hidden() and page.locator("#gallery-more").is_hidden()
    # the source and the time are each readable on one line, not broken mid-name
    lines = shot.evaluate(LINES)
    assert len(lines) == 2 and lines[0][0] == SOURCE
    assert all(count == 1 for _, count in lines), lines
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#gallery-panel").screenshot(path=str(ARTIFACTS / "gallery.png"))

    # the slider hides boxes below the score; the counts stay as they were
    total_before = page.locator("#totals .card-main .card-value").inner_text()
    page.evaluate("""() => { const s = document.getElementById("min-score");
                             s.value = "1"; s.dispatchEvent(new Event("input")); }""")
    assert shot.get_attribute("data-shown-boxes") == "0"
    assert box_pixel(page, dog.image_id, best_dog.box)[3] == 0
    assert f"{len(dog.objects)} below 1.00" in shot.locator(".shot-labels").inner_text()
    assert page.locator("#totals .card-main .card-value").inner_text() == total_before
    assert "changes no count" in page.locator("#gallery-note").inner_text()
    page.evaluate("""() => { const s = document.getElementById("min-score");
                             s.value = "0"; s.dispatchEvent(new Event("input")); }""")

    # a click opens the full image, boxes drawn over it
    shot.click()
    viewer = page.locator("#viewer-figure")
    page.wait_for_function('document.getElementById("viewer-figure").dataset.loaded === "true"')
    assert viewer.locator("img").evaluate("img => img.naturalWidth") == dog.width
    assert "dog" in viewer.get_attribute("data-shown-labels").split(",")
    page.screenshot(path=str(ARTIFACTS / "gallery-full-image.png"))
    page.locator("#viewer-close").click()
    assert page.locator("#viewer").is_hidden()


def test_clicking_a_timeline_point_shows_that_buckets_images(page, photos):
    person = photos["person"]
    page.wait_for_function("window.dashboard && window.dashboard.charts.timeline")
    hour = person.captured_at.replace(minute=0, second=0, microsecond=0)
    point = page.evaluate(
        """(hour) => {
        const chart = window.dashboard.charts.timeline;
        const index = chart.data.datasets.findIndex((d) => d.label === "person");
        const at = chart.data.datasets[index].data.findIndex((p) => Date.parse(p.t) === Date.parse(hour));
        const element = chart.getDatasetMeta(index).data[at];
        return { x: element.x, y: element.y, y_value: chart.data.datasets[index].data[at].y };
    }""",
        hour.isoformat(),
    )
    assert point["y_value"] == 1
    box = page.locator("#timeline-chart").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    page.wait_for_function('document.getElementById("gallery").dataset.mode === "bucket"')
    ids = page.locator("#gallery figure").evaluate_all("figs => figs.map((f) => f.dataset.imageId)")
    assert ids == [person.image_id]
    assert "person" in page.locator("#bucket-text").inner_text()
    figure(page, person.image_id)
    page.locator("#gallery-panel").screenshot(path=str(ARTIFACTS / "gallery-bucket.png"))
    # back to the newest images: both
    page.locator("#bucket-clear").click()
    page.wait_for_function('document.querySelectorAll("#gallery figure").length === 2')

    # a bucket shown, then another view chosen: the gallery follows the new view
    page.locator("#timeline-chart").scroll_into_view_if_needed()
    box = page.locator("#timeline-chart").bounding_box()  # the gallery scrolled into view before
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    page.wait_for_function('document.getElementById("gallery").dataset.mode === "bucket"')
    page.click('button[data-range="now-7d"]')
    page.wait_for_function('document.getElementById("gallery").dataset.mode === "latest"')
    assert page.locator("#bucket-bar").is_hidden()
    page.wait_for_function('document.querySelectorAll("#gallery figure").length === 2')


def test_clicking_a_bar_shows_that_labels_images(page, photos):
    dog = photos["dog"]
    page.wait_for_function("window.dashboard && window.dashboard.charts.top")
    bar = page.evaluate(
        """() => {
        const chart = window.dashboard.charts.top;
        const element = chart.getDatasetMeta(0).data[chart.data.labels.indexOf("dog")];
        return { x: (element.base + element.x) / 2, y: element.y };
    }"""
    )
    box = page.locator("#top-chart").bounding_box()
    page.mouse.click(box["x"] + bar["x"], box["y"] + bar["y"])
    page.wait_for_function('document.getElementById("gallery").dataset.mode === "bucket"')
    page.wait_for_function(f"window.gallery.state.images.map((i) => i.id).join() === '{dog.image_id}'")
    assert page.locator("#bucket-text").inner_text() == "Images behind dog · the whole range"


def test_a_new_image_appears_by_itself(page, es, stored, gallery_live_prefix):
    """Live counts on screen: the dashboard asks again every 2 s, and the gallery with it."""
    figure(page, page.evaluate("window.gallery.state.images[0].id"))
    newcomer = event(
        stored.put(small_jpeg(300, 200, (200, 180, 40))),
        SOURCE,
        utc_now(),
        [("cat", 0.7, (20, 20, 120, 90))],
        width=300,
        height=200,
    )
    index_events(es, gallery_live_prefix, [newcomer])
    shot = figure(page, newcomer.image_id)
    assert shot.get_attribute("data-shown-labels") == "cat"
    first = page.locator("#gallery figure").first.get_attribute("data-image-id")
    assert first == newcomer.image_id  # newest first


def test_an_image_no_longer_stored_says_so(page, es, gallery_live_prefix):
    """Listed by the live index, gone from S3 (removed by hand, or a bucket's expiry)."""
    figure(page, page.evaluate("window.gallery.state.images[0].id"))
    gone = event(new_image_id(), SOURCE, utc_now(), [("cat", 0.7, (20, 20, 120, 90))], width=300, height=200)
    index_events(es, gallery_live_prefix, [gone])
    shot = page.locator(f'#gallery figure[data-image-id="{gone.image_id}"]')
    shot.wait_for()
    frame = f'#gallery figure[data-image-id="{gone.image_id}"] .shot-frame'
    page.wait_for_function(f"document.querySelector('{frame}').dataset.note === 'image no longer stored'")
    assert shot.get_attribute("data-loaded") == "error"
    assert page.locator("#gallery-unavailable").is_hidden()  # the other images are shown
