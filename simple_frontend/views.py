"""The dashboard page and the browser libraries it loads from node_modules."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, render_template, send_from_directory

from .extension import frontend

NODE_MODULES = Path(__file__).resolve().parent / "node_modules"
# The only files served from node_modules, by the names the page uses, in the order it
# loads them (the adapter needs both others): installed from the npm registry by
# `make setup` (npm ci), never copied into the repo or fetched from a CDN.
VENDOR_FILES = {
    "moment.min.js": "moment/min/moment.min.js",
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
    "chartjs-adapter-moment.min.js": "chartjs-adapter-moment/dist/chartjs-adapter-moment.min.js",
}

bp = Blueprint("views", __name__)


@bp.get("/")
def index():
    app = frontend()
    return render_template(
        "index.html",
        index_name=app.store.index,
        live_pattern=app.store.live_pattern,
        max_buckets=app.settings.max_buckets,
        vendor_scripts=list(VENDOR_FILES),
    )


@bp.get("/vendor/<name>")
def vendor(name: str):
    relative = VENDOR_FILES.get(name)
    if relative is None:
        abort(404)
    if not (NODE_MODULES / relative).is_file():
        abort(404, description=f"{relative} is missing: run `make setup` (npm ci --prefix simple_frontend)")
    return send_from_directory(NODE_MODULES, relative, mimetype="text/javascript")
