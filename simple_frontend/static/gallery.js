// Gallery: the newest images with the detector's boxes drawn over them (by the browser,
// from the detections the API lists; the images themselves stay untouched). Follows the
// dashboard's filters (it listens for "dashboard:refreshed"), shows the images behind a
// clicked chart bucket ("dashboard:bucket"), and hides boxes under the chosen score.
(() => {
  "use strict";

  const PAGE = 24;
  const MAX_LIMIT = 100;
  const PALETTE = ["#4f7cff", "#f59e0b", "#10b981", "#ef4471", "#8b5cf6", "#06b6d4", "#f97316",
                   "#84cc16", "#d946ef", "#64748b"];
  const $ = (id) => document.getElementById(id);
  const state = {
    filters: null,   // the dashboard's: from, to, source, labels
    bucket: null,    // a clicked chart bucket: label, source, from, to, title
    images: [],      // what the grid shows, newest first
    next: null,      // cursor of the next (older) page
    total: 0,
    minScore: 0,
    generation: 0,
    renders: 0,      // finished loads, whatever their outcome (tests wait on it)
  };

  // ---- colours and drawing ---------------------------------------------------------------
  function colorOf(label) {
    let hash = 0;
    for (const ch of label) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
    return PALETTE[hash % PALETTE.length];
  }

  const visible = (image) => (image.detections || []).filter((d) => d.score >= state.minScore);

  // Draws `image`'s boxes on `canvas`, laid over `img` (same size on screen).
  function drawBoxes(canvas, img, image) {
    const shown = img.clientWidth, tall = img.clientHeight;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(shown * ratio);
    canvas.height = Math.round(tall * ratio);
    canvas.style.width = `${shown}px`;
    canvas.style.height = `${tall}px`;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, shown, tall);
    const boxes = visible(image);
    // boxes are in pixels of the original; without its size they cannot be placed
    const width = image.width, height = image.height;
    if (!width || !height || !shown) return [];
    const sx = shown / width, sy = tall / height;
    const font = Math.max(10, Math.min(14, shown / 22));
    ctx.font = `600 ${font}px ${getComputedStyle(document.body).fontFamily}`;
    ctx.lineWidth = 2;
    for (const d of boxes) {
      const [x, y, w, h] = d.box;
      const color = colorOf(d.label);
      ctx.strokeStyle = color;
      ctx.strokeRect(x * sx, y * sy, w * sx, h * sy);
      const text = `${d.label} ${Math.round(d.score * 100)}%`;
      const textWidth = ctx.measureText(text).width + 8;
      const top = y * sy >= font + 4 ? y * sy - font - 4 : y * sy;
      ctx.fillStyle = color;
      ctx.fillRect(x * sx, top, textWidth, font + 4);
      ctx.fillStyle = "#fff";
      ctx.fillText(text, x * sx + 4, top + font);
    }
    return boxes;
  }

  // ---- the grid ----------------------------------------------------------------------------
  function caption(image) {
    if (image.detections === null) {
      const counts = Object.entries(image.counts).map(([label, n]) => `${label} ${n}`).join(", ");
      return `no boxes recorded for this image${counts ? ` (${counts})` : ""}`;
    }
    const boxes = visible(image);
    const hidden = image.detections.length - boxes.length;
    const text = boxes.map((d) => `${d.label} ${Math.round(d.score * 100)}%`).join(" · ") ||
      (image.detections.length ? "" : "nothing detected");
    return hidden ? `${text}${text ? " · " : ""}${hidden} below ${state.minScore.toFixed(2)}` : text;
  }

  function redraw(figure, image) {
    const img = figure.querySelector("img");
    const shown = drawBoxes(figure.querySelector("canvas"), img, image);
    figure.dataset.shownLabels = shown.map((d) => d.label).join(",");
    figure.dataset.shownBoxes = String(shown.length);
    figure.querySelector(".shot-labels").textContent = caption(image);
  }

  function card(image) {
    const figure = document.createElement("figure");
    figure.className = "shot";
    figure.dataset.imageId = image.id;
    figure.tabIndex = 0;
    figure.title = "Open the full image";
    const frame = document.createElement("div");
    frame.className = "shot-frame";
    const img = document.createElement("img");
    img.alt = `${image.source}, ${moment(image.captured_at).format("lll")}`;
    img.decoding = "async";
    const canvas = document.createElement("canvas");
    canvas.className = "boxes";
    img.addEventListener("load", () => {
      figure.dataset.loaded = "true";
      $("gallery-unavailable").hidden = true;  // images can be shown after all
      redraw(figure, image);
    });
    img.addEventListener("error", () => {
      figure.dataset.loaded = "error";
      frame.classList.add("unavailable");
      frame.dataset.note = "image not available";
      explain(image, frame);
    });
    // the frame keeps the image's shape while it loads (or if it cannot be shown)
    if (image.width && image.height) frame.style.aspectRatio = `${image.width} / ${image.height}`;
    img.src = image.thumbnail;
    frame.append(img, canvas);
    const text = document.createElement("figcaption");
    const head = document.createElement("div");
    head.className = "shot-head";
    const source = document.createElement("span");
    source.className = "shot-source";
    source.textContent = image.source;
    const time = document.createElement("time");
    time.dateTime = image.captured_at;
    time.textContent = moment(image.captured_at).format("lll");
    head.append(source, time);
    const labels = document.createElement("div");
    labels.className = "shot-labels";
    labels.textContent = caption(image);
    text.append(head, labels);
    figure.append(frame, text);
    figure.addEventListener("click", () => openViewer(image));
    figure.addEventListener("keydown", (event) => { if (event.key === "Enter") openViewer(image); });
    return figure;
  }

  // Why a thumbnail did not load, as the API says (an <img> cannot read the answer): not
  // stored any more (404) on the image itself; anything else (S3 keys not configured, S3
  // refusing them or unreachable) above the grid, since it stands for every image.
  async function explain(image, frame) {
    let status = 0, message = "the dashboard server cannot be reached";
    try {
      const response = await fetch(image.thumbnail, { headers: { Accept: "application/json" } });
      status = response.status;
      const body = response.ok ? null : await response.json().catch(() => null);
      message = body && body.error ? body.error : `HTTP ${status}`;
    } catch (err) { /* unreachable: the message above */ }
    if (status === 404) {
      frame.dataset.note = "image no longer stored";
    } else if (status < 200 || status >= 300) {
      $("gallery-unavailable").textContent = `Images cannot be shown: ${message}`;
      $("gallery-unavailable").hidden = false;
    }
  }

  function render() {
    const grid = $("gallery");
    const known = new Map([...grid.children].map((el) => [el.dataset.imageId, el]));
    // keep cards already shown (their thumbnails are loaded), in the new order
    grid.replaceChildren(...state.images.map((image) => {
      const existing = known.get(image.id);
      if (existing) { existing.querySelector(".shot-labels").textContent = caption(image); return existing; }
      return card(image);
    }));
    $("gallery-empty").hidden = state.images.length > 0;
    $("gallery-more").hidden = !state.next;
    const count = state.total > state.images.length ? `${state.images.length} of ${state.total}` : `${state.images.length}`;
    $("gallery-caption").textContent = `${count} image${state.total === 1 ? "" : "s"} · newest first`;
    const bar = $("bucket-bar");
    bar.hidden = !state.bucket;
    if (state.bucket) $("bucket-text").textContent = `Images behind ${state.bucket.title}`;
    grid.dataset.mode = state.bucket ? "bucket" : "latest";
  }

  function redrawAll() {
    const byId = new Map(state.images.map((image) => [image.id, image]));
    for (const figure of $("gallery").children) {
      const image = byId.get(figure.dataset.imageId);
      if (image && figure.dataset.loaded === "true") redraw(figure, image);
    }
    if (!$("viewer").hidden && viewerImage) redraw($("viewer-figure"), viewerImage);
  }

  // ---- loading -----------------------------------------------------------------------------
  function query(extra = {}) {
    const params = new URLSearchParams();
    const source = state.bucket ? state.bucket.source : state.filters && state.filters.source;
    const labels = state.bucket ? (state.bucket.label ? [state.bucket.label] : []) : (state.filters ? state.filters.labels : []);
    const range = state.bucket || state.filters || {};
    if (range.from) params.set("from", range.from);
    if (range.to) params.set("to", range.to);
    if (source) params.set("source", source);
    for (const label of labels || []) params.append("label", label);
    for (const [key, value] of Object.entries(extra)) params.set(key, value);
    return params;
  }

  async function fetchImages(params) {
    const response = await fetch(`/api/images?${params}`, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error(body && body.error ? body.error : `HTTP ${response.status}`);
    return body;
  }

  // The newest page again (as many as are shown, so older pages loaded stay in place).
  async function load() {
    const generation = ++state.generation;
    const limit = Math.min(MAX_LIMIT, Math.max(PAGE, state.images.length));
    try {
      const body = await fetchImages(query({ limit }));
      if (generation !== state.generation) return;
      state.images = body.images;
      state.next = body.next;
      state.total = body.total;
      $("gallery-error").hidden = true;
      render();
    } catch (err) {
      if (generation !== state.generation) return;
      $("gallery-error").textContent = `Could not load the images: ${err.message}`;
      $("gallery-error").hidden = false;
    } finally {
      if (generation === state.generation) state.renders += 1;
    }
  }

  async function loadOlder() {
    if (!state.next) return;
    const generation = state.generation;
    try {
      const body = await fetchImages(query({ limit: PAGE, after: state.next }));
      if (generation !== state.generation) return;
      const seen = new Set(state.images.map((image) => image.id));
      state.images = [...state.images, ...body.images.filter((image) => !seen.has(image.id))];
      state.next = body.next;
      render();
    } catch (err) {
      $("gallery-error").textContent = `Could not load older images: ${err.message}`;
      $("gallery-error").hidden = false;
    }
  }

  // ---- the full image ------------------------------------------------------------------------
  let viewerImage = null;

  function openViewer(image) {
    viewerImage = image;
    const figure = $("viewer-figure");
    const img = figure.querySelector("img");
    figure.dataset.imageId = image.id;
    figure.dataset.loaded = "false";
    img.onload = () => { figure.dataset.loaded = "true"; redraw(figure, image); };
    img.src = image.full;
    img.alt = `${image.source}, ${moment(image.captured_at).format("lll")}`;
    $("viewer-title").textContent = `${image.source} · ${moment(image.captured_at).format("LLL")}`;
    $("viewer-original").href = image.full;
    figure.querySelector(".shot-labels").textContent = caption(image);
    $("viewer").hidden = false;
    document.body.classList.add("viewing");
    $("viewer-close").focus();
  }

  function closeViewer() {
    $("viewer").hidden = true;
    document.body.classList.remove("viewing");
    viewerImage = null;
  }

  // ---- wiring ------------------------------------------------------------------------------
  document.addEventListener("dashboard:refreshed", (event) => {
    state.filters = event.detail;
    load();
  });
  // another view chosen: its newest images, not a bucket of the view before (loaded once
  // the dashboard has its new filters)
  document.addEventListener("dashboard:navigated", () => { state.bucket = null; state.images = []; });
  document.addEventListener("dashboard:bucket", (event) => {
    state.bucket = event.detail;
    state.images = [];
    load();
    $("gallery-panel").scrollIntoView({ behavior: "smooth", block: "start" });
  });
  document.addEventListener("DOMContentLoaded", () => {
    $("min-score").addEventListener("input", (event) => {
      state.minScore = Number(event.target.value);
      $("min-score-value").textContent = state.minScore.toFixed(2);
      redrawAll();
    });
    $("bucket-clear").addEventListener("click", () => { state.bucket = null; state.images = []; load(); });
    $("gallery-more").addEventListener("click", loadOlder);
    $("viewer-close").addEventListener("click", closeViewer);
    $("viewer").addEventListener("click", (event) => { if (event.target === $("viewer")) closeViewer(); });
    document.addEventListener("keydown", (event) => { if (event.key === "Escape" && !$("viewer").hidden) closeViewer(); });
    window.addEventListener("resize", redrawAll);
  });

  window.gallery = { state, load, openViewer };
})();
