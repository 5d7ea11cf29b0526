"""The gallery's routes under /api/images: the newest images with their detections, and
each image as a thumbnail or in full, streamed from S3 with the dashboard's own keys
(browsers never talk to S3).

    GET /api/images?from=&to=&source=&label=&limit=&after=   newest first, paged
    GET /api/images/<id>/thumbnail?size=N                    JPEG, longest side <= N
    GET /api/images/<id>/full                                the original JPEG
"""

from __future__ import annotations

from typing import Any, Mapping

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from prometheus_client import Counter

from pipeline_common.clients import s3_client

from . import gallery
from .extension import frontend
from .params import ParamError, check_names, shown
from .settings import FrontendSettings
from .thumbnails import ImageMissing, ImageStore, ImageUnavailable, ThumbnailCache

KEY = "simple_frontend.images"
# Image ids name their content: what is served for one never changes. Behind the edge's
# basic auth, so only the viewer's own browser keeps it.
CACHE_CONTROL = "private, max-age=86400, immutable"

bp = Blueprint("images", __name__, url_prefix="/api/images")

THUMBNAILS = Counter("pipeline_thumbnails_total", "Thumbnails served, by whether the cache held them", ["cache"])


def register(app: Flask, settings: FrontendSettings, config: Mapping[str, Any]) -> None:
    """Add the gallery's routes. Config S3_CLIENT (a client, or a fake) wins over the
    settings' FRONTEND_S3_* keys; with neither, the image routes answer 503."""
    client = config.get("S3_CLIENT")
    s3 = settings.images
    if client is None and s3 is not None:
        # a pool as big as the threads serving requests; few retries: a browser is waiting
        client = s3_client(s3, max_pool_connections=32, retries={"max_attempts": 3, "mode": "standard"})
    bucket = config.get("S3_BUCKET") or (s3.bucket if s3 is not None else "")
    cache = ThumbnailCache(settings.gallery.cache_bytes)
    app.extensions[KEY] = ImageStore(client, bucket, cache) if client is not None else None
    app.register_blueprint(bp)

    @app.errorhandler(ImageMissing)
    def missing(error: ImageMissing):
        return jsonify({"error": "no such image"}), 404

    @app.errorhandler(ImageUnavailable)
    def unavailable(error: ImageUnavailable):
        return jsonify({"error": str(error)}), error.status


def _images() -> ImageStore:
    store = current_app.extensions.get(KEY)
    if store is None:
        raise ImageUnavailable(503, "images are not configured: set FRONTEND_S3_ACCESS_KEY and FRONTEND_S3_SECRET_KEY")
    return store


@bp.get("")
def listing() -> Response:
    app = frontend()
    query = gallery.parse_image_query(request.args.to_dict(flat=False), app.clock())
    answer = gallery.listing_answer(app.store.search_live(gallery.listing_body(query)), query)
    return jsonify(answer)


def _size(text: str | None) -> int:
    limits = frontend().settings.gallery
    if text is None:
        return limits.thumbnail_px
    if not text.isascii() or not text.isdigit() or len(text) > 5 or not 16 <= int(text) <= limits.max_thumbnail_px:
        raise ParamError(
            f"size: expected a whole number of pixels from 16 to {limits.max_thumbnail_px} "
            f"(the full image: /api/images/<id>/full); got {shown(text)}"
        )
    return int(text)


def _not_modified(etag: str) -> bool:
    return etag in request.if_none_match


def _unchanged(etag: str) -> Response:
    """304: the browser's copy is current (an id's image never changes)."""
    response = Response(status=304)
    response.set_etag(etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


@bp.get("/<path:image_id>/thumbnail")
def thumbnail(image_id: str) -> Response:
    args = request.args.to_dict(flat=False)
    check_names(args, frozenset({"size"}))
    image_id = gallery.check_image_id(image_id)
    size = _size(request.args.get("size"))
    etag = f"{image_id}-{size}"
    if _not_modified(etag):
        return _unchanged(etag)
    data, cached = _images().thumbnail(image_id, size)
    response = Response(data, mimetype="image/jpeg")
    response.set_etag(etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["X-Thumbnail-Cache"] = "hit" if cached else "miss"
    THUMBNAILS.labels("hit" if cached else "miss").inc()
    return response


@bp.get("/<path:image_id>/full")
def full(image_id: str) -> Response:
    check_names(request.args.to_dict(flat=False), frozenset())
    image_id = gallery.check_image_id(image_id)
    if _not_modified(image_id):
        return _unchanged(image_id)
    original = _images().original(image_id)
    response = Response(original.chunks, mimetype="image/jpeg", direct_passthrough=True)
    if original.length is not None:
        response.content_length = original.length
    response.set_etag(image_id)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response
