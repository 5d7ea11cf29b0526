// Dashboard: reads the JSON API and draws Chart.js charts. No framework, no build step.
(() => {
  "use strict";

  const REFRESH_MS = 30000;
  // While the chart shows live buckets (after the newest batch run), new images can arrive
  // at any moment: the page asks again this often, unless the tab is hidden.
  const LIVE_REFRESH_MS = 2000;
  // "Auto" interval: the finest interval that draws at most this many points.
  const DISPLAY_BUCKETS = 300;
  const INTERVAL_MS = { minute: 60e3, hour: 3600e3, day: 86400e3 };
  const RANGE_MS = { "now-1h": 3600e3, "now-24h": 86400e3, "now-7d": 7 * 86400e3, "now-30d": 30 * 86400e3 };
  const TOP_N = 10;
  const SERIES_N = 8;
  const PALETTE = ["#4f7cff", "#f59e0b", "#10b981", "#ef4471", "#8b5cf6", "#06b6d4", "#f97316",
                   "#84cc16", "#d946ef", "#64748b"];
  const MAX_BUCKETS = Number(document.body.dataset.maxBuckets) || 2000;

  const DEFAULT_RANGE = "now-24h";
  const INTERVALS = ["auto", "minute", "hour", "day"];
  const METRICS = ["detections", "images"];
  const COMPARISONS = ["", "previous", "source"];

  const state = {
    range: DEFAULT_RANGE, custom: null, interval: "auto", metric: "detections",
    source: "", labels: [], knownLabels: [], timer: null, generation: 0,
    compare: "",  // "": nothing, "previous": the period before, "source": another source (`vs`)
    vs: "",
    renders: 0,  // finished refreshes, whatever their outcome (tests wait on it)
    live: false,  // the last answer held live buckets: poll every LIVE_REFRESH_MS
    finalUntil: null,  // counts before this time come from the newest batch run
    retry: false,  // the last refresh failed on the server's side or the network: ask again
  };
  const $ = (id) => document.getElementById(id);
  const charts = { timeline: null, top: null };

  // ---- API ----------------------------------------------------------------------------
  class ApiError extends Error {}

  function queryOf(params) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value === undefined || value === null || value === "") continue;
      for (const item of Array.isArray(value) ? value : [value]) query.append(key, item);
    }
    return query;
  }

  async function api(path, params = {}) {
    const query = queryOf(params);
    let response;
    try {
      response = await fetch(`${path}?${query}`, { headers: { Accept: "application/json" } });
    } catch (err) {
      throw new ApiError("The dashboard server cannot be reached.");
    }
    let body = null;
    try { body = await response.json(); } catch (err) { /* reported below */ }
    if (!response.ok) {
      const message = body && body.error ? body.error : `HTTP ${response.status}`;
      const error = new ApiError(message);
      error.status = response.status;
      error.body = body;
      throw error;
    }
    return { body, headers: response.headers };
  }

  // ---- time range and interval ----------------------------------------------------------
  function chooseInterval(spanMs) {
    if (state.interval !== "auto") return state.interval;
    for (const name of ["minute", "hour", "day"]) {
      if (Math.ceil(spanMs / INTERVAL_MS[name]) + 1 <= DISPLAY_BUCKETS) return name;
    }
    return "day";
  }

  // Resolves the chosen range to API parameters; null when "all" finds an empty index.
  function resolveRange(health) {
    if (state.range === "custom" && state.custom) {
      const { from, to } = state.custom;
      return { from, to, spanMs: Date.parse(to) - Date.parse(from) };
    }
    if (state.range === "all") {
      const live = (health && health.live) || {};
      const oldest = [health && health.oldest_bucket, live.oldest_capture].filter(Boolean).sort()[0];
      const newest = [health && health.newest_bucket, live.newest_capture].filter(Boolean).sort().pop();
      if (!oldest) return null;
      const finest = ((health && health.stored_intervals) || ["minute"])[0];
      const to = new Date(Date.parse(newest) + INTERVAL_MS[finest]).toISOString();
      return { from: oldest, to, spanMs: Date.parse(to) - Date.parse(oldest) };
    }
    return { from: state.range, to: "now", spanMs: RANGE_MS[state.range] };
  }

  // The range just before `range`, of the same length, and how far back it lies: relative
  // presets stay relative (now-48h .. now-24h), absolute ranges move by their span.
  function previousRange(range) {
    const relative = /^now-(\d+)([mhdw])$/.exec(range.from);
    if (relative && range.to === "now") {
      const [, amount, unit] = relative;
      return { from: `now-${2 * Number(amount)}${unit}`, to: range.from, shiftMs: range.spanMs };
    }
    const from = Date.parse(range.from), to = Date.parse(range.to);
    return { from: new Date(2 * from - to).toISOString(), to: new Date(from).toISOString(), shiftMs: to - from };
  }

  // ---- the view in the URL ------------------------------------------------------------
  // The whole view (range, interval, metric, source, labels, comparison) lives in the
  // address: a link restores it, and each change is a history entry the back button undoes.
  function urlOfState() {
    const query = new URLSearchParams();
    if (state.range !== DEFAULT_RANGE) query.set("range", state.range);
    if (state.range === "custom" && state.custom) {
      query.set("from", state.custom.from);
      query.set("to", state.custom.to);
    }
    if (state.interval !== "auto") query.set("interval", state.interval);
    if (state.metric !== METRICS[0]) query.set("metric", state.metric);
    if (state.source) query.set("source", state.source);
    for (const label of state.labels) query.append("label", label);
    if (state.compare) query.set("compare", state.compare);
    if (state.compare === "source" && state.vs) query.set("vs", state.vs);
    const text = query.toString();
    return text ? `?${text}` : location.pathname;
  }

  function readUrl() {
    const query = new URLSearchParams(location.search);
    const oneOf = (value, allowed, fallback) => (allowed.includes(value) ? value : fallback);
    const range = query.get("range") || DEFAULT_RANGE;
    state.range = oneOf(range, [...Object.keys(RANGE_MS), "all", "custom"], DEFAULT_RANGE);
    state.custom = null;
    if (state.range === "custom") {
      const from = Date.parse(query.get("from")), to = Date.parse(query.get("to"));
      if (isNaN(from) || isNaN(to) || from >= to) state.range = DEFAULT_RANGE;
      else state.custom = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
    }
    state.interval = oneOf(query.get("interval"), INTERVALS, "auto");
    state.metric = oneOf(query.get("metric"), METRICS, METRICS[0]);
    state.source = query.get("source") || "";
    state.labels = [...new Set(query.getAll("label").filter(Boolean))];
    state.compare = oneOf(query.get("compare") || "", COMPARISONS, "");
    state.vs = state.compare === "source" ? query.get("vs") || "" : "";
  }

  // The controls show the state (after a shared link is opened or the back button is used).
  function showState() {
    for (const button of $("presets").querySelectorAll("button")) {
      button.classList.toggle("active", button.dataset.range === state.range);
    }
    $("custom-range").hidden = state.range !== "custom";
    if (state.custom) {
      $("custom-from").value = toLocalInput(state.custom.from);
      $("custom-to").value = toLocalInput(state.custom.to);
    }
    $("interval").value = state.interval;
    $("metric").value = state.metric;
    for (const [id, value] of [["source", state.source], ["vs", state.vs]]) {
      const select = $(id);
      if (value && ![...select.options].some((option) => option.value === value)) {
        select.append(new Option(value, value));
      }
      select.value = value;
    }
    $("compare").value = state.compare;
    $("vs-control").hidden = state.compare !== "source";
  }

  // A user changed the view: a new history entry, then the data (the gallery leaves a
  // clicked bucket for the new view's newest images).
  function navigate() {
    const url = urlOfState();
    if (url !== location.search && !(url === location.pathname && !location.search)) {
      history.pushState(null, "", url);
    }
    showState();
    document.dispatchEvent(new CustomEvent("dashboard:navigated"));
    refresh();
  }

  // ---- rendering ------------------------------------------------------------------------
  const colorOf = (order, label) => {
    const index = order.indexOf(label);
    return index >= 0 ? PALETTE[index % PALETTE.length] : "#94a3b8";
  };
  const formatCount = (n) => new Intl.NumberFormat().format(n);

  function setState(name) {
    document.body.dataset.state = name;
    if (name !== "loading") state.renders += 1;
  }

  function showError(message) {
    const banner = $("error");
    banner.textContent = message ? `Could not load the data: ${message}` : "";
    banner.hidden = !message;
  }

  function showNote(message) {
    $("note").textContent = message || "";
    $("note").hidden = !message;
  }

  function renderHealth(health, error) {
    const pill = $("health");
    if (health && health.status === "ok") {
      const live = health.live || {};
      const newestAt = [health.newest_bucket, live.newest_capture].filter(Boolean).sort().pop();
      const newest = newestAt ? moment(newestAt).fromNow() : "never";
      pill.textContent = `Elasticsearch OK · newest ${newest}`;
      pill.title = `${live.images || 0} image(s) in the live indices`;
      pill.className = "pill pill-ok";
    } else {
      pill.textContent = health ? `Elasticsearch: ${health.status}` : "Elasticsearch: unknown";
      pill.title = (health && health.error) || (error && error.message) || "";
      pill.className = "pill pill-bad";
    }
  }

  function renderLabelChips(available) {
    const box = $("labels");
    const names = [...new Set([...available, ...state.labels])].sort((a, b) => a.localeCompare(b));
    box.replaceChildren(...names.map((name) => {
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = "chip" + (state.labels.includes(name) ? " selected" : "");
      chip.textContent = name;
      chip.dataset.label = name;
      chip.setAttribute("aria-pressed", state.labels.includes(name));
      return chip;
    }));
    if (!names.length) {
      const none = document.createElement("span");
      none.className = "muted";
      none.textContent = "No labels in this range";
      box.append(none);
    }
    $("labels-hint").textContent = state.labels.length
      ? `(${state.labels.length} chosen · click to toggle)`
      : names.length ? `(none chosen: ${names.length > SERIES_N ? `the ${SERIES_N} busiest are` : "all are"} shown)` : "";
  }

  function renderSources(sources) {
    for (const id of ["source", "vs"]) {
      const select = $(id);
      const options = [new Option("All sources", "")];
      for (const name of new Set([...sources, ...(state[id] ? [state[id]] : [])])) {
        options.push(new Option(name, name));
      }
      select.replaceChildren(...options);
      select.value = state[id];
    }
  }

  // `compared` (or null): each card also says the count there, at a glance.
  function renderCards(totals, order, compared) {
    const metricName = state.metric === "images" ? "Images" : "Detections";
    const byLabel = new Map(totals.totals.map((row) => [row.label, row.count]));
    const seen = `${totals.totals.length} label${totals.totals.length === 1 ? "" : "s"} seen`;
    const there = (count) => (compared ? `${compared.name}: ${formatCount(count || 0)}` : null);
    const cards = [{
      title: state.labels.length ? `${metricName} · chosen labels` : `${metricName} · all labels`,
      value: totals.total, accent: "#1e293b", main: true,
      note: [seen, totals.live ? "includes live counts" : null, compared && there(compared.total)]
        .filter(Boolean).join(" · "),
    }];
    for (const label of order) {
      cards.push({ title: label, value: byLabel.get(label) || 0, accent: colorOf(order, label),
                   note: compared && there(compared.totals[label]) });
    }
    $("totals").replaceChildren(...cards.map((card) => {
      const el = document.createElement("div");
      el.className = "card" + (card.main ? " card-main" : "");
      el.style.setProperty("--accent", card.accent);
      el.dataset.label = card.main ? "" : card.title;
      const title = document.createElement("div");
      title.className = "card-title";
      title.textContent = card.title;
      const value = document.createElement("div");
      value.className = "card-value";
      value.textContent = formatCount(card.value);
      el.append(title, value);
      if (card.note) {
        const note = document.createElement("div");
        note.className = "card-note";
        note.textContent = card.note;
        el.append(note);
      }
      return el;
    }));
  }

  function baseOptions() {
    return {
      responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { labels: { boxWidth: 12, boxHeight: 12, usePointStyle: true } } },
    };
  }

  const isLive = (point) => point && point.state === "live";

  // Shades the live part of the time axis (from the batch cutoff on) with light hatching.
  const liveRegion = {
    id: "liveRegion",
    beforeDatasetsDraw(chart, _args, options) {
      if (!options.active) return;
      const { ctx, chartArea, scales } = chart;
      const from = options.from === null ? chartArea.left : scales.x.getPixelForValue(options.from);
      const left = Math.max(chartArea.left, Math.min(from, chartArea.right));
      if (left >= chartArea.right) return;
      ctx.save();
      ctx.fillStyle = hatch(ctx);
      ctx.fillRect(left, chartArea.top, chartArea.right - left, chartArea.bottom - chartArea.top);
      ctx.fillStyle = "#64748b";
      ctx.font = "12px " + Chart.defaults.font.family;
      ctx.textAlign = "right";
      ctx.fillText("live", chartArea.right - 6, chartArea.top + 14);
      ctx.restore();
    },
  };

  function hatch(ctx) {
    const tile = document.createElement("canvas");
    tile.width = tile.height = 8;
    const t = tile.getContext("2d");
    t.fillStyle = "rgba(79, 124, 255, 0.05)";
    t.fillRect(0, 0, 8, 8);
    t.strokeStyle = "rgba(79, 124, 255, 0.16)";
    t.beginPath(); t.moveTo(0, 8); t.lineTo(8, 0); t.stroke();
    return ctx.createPattern(tile, "repeat");
  }

  // `compared`: null, or { series, name, mainName, shiftMs } drawn thinner beside the
  // main series, in the same colours, moved forward by `shiftMs` (the period before).
  function renderTimeline(series, interval, range, finalUntil, compared) {
    const order = Object.keys(series);
    const anyLive = order.some((label) => series[label].some(isLive));
    const datasets = order.map((label) => {
      const color = colorOf(order, label);
      const points = series[label];
      return {
        label, data: points, parsing: { xAxisKey: "t", yAxisKey: "y" },
        borderColor: color, backgroundColor: color + "22", borderWidth: 2,
        pointRadius: points.length > 60 ? 0 : 2.5, pointHoverRadius: 5,
        // live points hollow, live segments dashed: they may still change
        pointBackgroundColor: points.map((point) => (isLive(point) ? "#ffffff" : color)),
        segment: { borderDash: (ctx) => (isLive(points[ctx.p1DataIndex]) ? [6, 4] : undefined) },
        // monotone: curves never overshoot below zero or above a peak
        cubicInterpolationMode: "monotone",
        fill: order.length === 1 && !compared,
        origin: { label, source: state.source },  // whose images a click on a point shows
      };
    });
    if (compared) {
      for (const dataset of datasets) dataset.label = `${dataset.label} · ${compared.mainName}`;
      for (const label of order) {
        const color = colorOf(order, label);
        const points = (compared.series[label] || []).map((point) => (
          { ...point, t: Date.parse(point.t) + compared.shiftMs, at: point.t }));
        datasets.push({
          label: `${label} · ${compared.name}`, data: points, parsing: { xAxisKey: "t", yAxisKey: "y" },
          borderColor: color + "99", backgroundColor: color + "99", borderWidth: 1.5, borderDash: [2, 3],
          pointRadius: points.length > 60 ? 0 : 2, pointStyle: "triangle", cubicInterpolationMode: "monotone",
          fill: false, compared: true,
          origin: { label, source: state.compare === "source" ? state.vs : state.source },
        });
      }
    }
    const options = baseOptions();
    options.plugins.liveRegion = { active: anyLive, from: finalUntil ? Date.parse(finalUntil) : null };
    options.plugins.tooltip = {
      callbacks: { footer: (items) => (items.length && isLive(items[0].raw) ? "live: may still change" : "final") },
    };
    options.interaction = { mode: "index", intersect: false };
    // a click on a point: the images behind it (gallery.js), of the series clicked (a
    // compared one: the other source's, or the period before's, at its own time)
    options.onClick = (event, _elements, chart) => {
      const [hit] = chart.getElementsAtEventForMode(event, "nearest", { intersect: false }, true);
      if (!hit) return;
      const dataset = chart.data.datasets[hit.datasetIndex];
      const point = dataset.data[hit.index];
      const { label, source } = dataset.origin;
      const start = Date.parse(point.at || point.t);
      const title = `${label}${source ? ` · ${source}` : ""} · ${moment(start).format("lll")} (per ${interval})`;
      showBucket({ label, source, from: new Date(start).toISOString(),
                   to: new Date(start + INTERVAL_MS[interval]).toISOString(), title });
    };
    options.scales = {
      x: {
        type: "time", min: Date.parse(range.from) || undefined, max: Date.parse(range.to) || undefined,
        time: { unit: interval, tooltipFormat: interval === "day" ? "ll" : "lll" },
        grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 10 },
      },
      y: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: "#eef1f6" } },
    };
    if (range.relative) { delete options.scales.x.min; delete options.scales.x.max; }
    if (charts.timeline) charts.timeline.destroy();
    charts.timeline = new Chart($("timeline-chart"), { type: "line", data: { datasets }, options,
                                                         plugins: [liveRegion] });
    const empty = !order.some((label) => series[label].some((point) => point.y > 0));
    showEmpty("timeline", empty ? NO_DATA : null);
    return empty;
  }

  function renderTop(top, order) {
    const rows = top.top;
    const options = baseOptions();
    options.indexAxis = "y";
    // a click on a bar: that label's images over the whole range (gallery.js)
    options.onClick = (_event, elements) => {
      if (!elements.length) return;
      const label = rows[elements[0].index].label;
      showBucket({ label, source: state.source, from: top.from, to: top.to,
                   title: `${label}${state.source ? ` · ${state.source}` : ""} · the whole range` });
    };
    options.plugins.legend = { display: false };
    options.scales = {
      x: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: "#eef1f6" } },
      y: { grid: { display: false } },
    };
    const data = {
      labels: rows.map((row) => row.label),
      datasets: [{
        label: state.metric, data: rows.map((row) => row.count), borderRadius: 6, maxBarThickness: 28,
        backgroundColor: rows.map((row) => colorOf(order, row.label)),
      }],
    };
    if (charts.top) charts.top.destroy();
    charts.top = new Chart($("top-chart"), { type: "bar", data, options });
    showEmpty("top", rows.some((row) => row.count > 0) ? null : NO_DATA);
  }

  function renderLiveNote(live, finalUntil, batchRun) {
    const note = $("live-note");
    note.hidden = !live;
    if (!live) return;
    note.textContent = finalUntil
      ? `Dashed and shaded: live counts since ${moment(finalUntil).format("lll")}, final after the next batch run`
      : "Dashed and shaded: live counts (no batch run yet); final after the first batch run";
    note.title = batchRun ? `counts before then come from batch run ${batchRun}` : "";
  }

  const NO_DATA = "No data in this range";

  // The message over a chart's box (`text`), or none (null).
  function showEmpty(name, text) {
    const box = $(`${name}-empty`);
    box.hidden = text === null;
    if (text !== null) box.textContent = text;
  }

  function clearCharts() {
    for (const key of Object.keys(charts)) {
      if (charts[key]) { charts[key].destroy(); charts[key] = null; }
    }
    $("totals").replaceChildren();
  }

  // ---- one refresh ---------------------------------------------------------------------
  async function refresh() {
    const generation = ++state.generation;
    const current = () => generation === state.generation;  // a newer refresh wins
    setState("loading");
    let health = null, filters = null;
    try {
      health = (await api("/api/health")).body;
      renderHealth(health);
    } catch (err) {
      health = err.body || null;
      renderHealth(health, err);
    }
    try {
      const range = resolveRange(health);
      if (!current()) return;
      if (range === null) {  // "all" on an empty index
        clearCharts();
        renderLabelChips([]);
        showError("");
        showNote("");
        showEmpty("timeline", NO_DATA);
        showEmpty("top", NO_DATA);
        setState("empty");
        return;
      }
      range.relative = range.to === "now";
      const interval = chooseInterval(range.spanMs);
      // The same interval everywhere: the API widens the range to whole buckets of it,
      // so the cards, the bars and the lines count the same detections.
      const common = { from: range.from, to: range.to, interval, source: state.source, metric: state.metric };
      filters = { from: range.from, to: range.to, source: state.source, labels: state.labels, live: state.live };
      const timelineParams = { ...common, label: state.labels, n: SERIES_N };
      $("timeline-csv").href = `/api/timeline?${queryOf({ ...timelineParams, format: "csv" })}`;
      $("totals-csv").href = `/api/totals?${queryOf({ ...common, label: state.labels, format: "csv" })}`;
      const [timeline, top, totals, labels, sources] = await Promise.all([
        api("/api/timeline", timelineParams),
        api("/api/top", { ...common, n: TOP_N }),
        api("/api/totals", { ...common, label: state.labels }),
        api("/api/labels", { from: range.from, to: range.to, interval, source: state.source }),
        api("/api/sources"),
      ]);
      if (!current()) return;
      showError("");
      state.retry = false;
      state.knownLabels = labels.body.labels;
      renderLabelChips(labels.body.labels);
      renderSources(sources.body.sources);
      const order = Object.keys(timeline.body);
      // The API answers in coarser buckets when only coarser counts are stored.
      const shown = timeline.headers.get("X-Interval") || interval;
      const finalUntil = headerTime(timeline.headers.get("X-Final-Until"));
      state.live = timeline.headers.get("X-Live") === "true";
      state.finalUntil = finalUntil;
      const compared = await comparison(range, { ...common, interval: shown }, order);
      if (!current()) return;
      const empty = renderTimeline(timeline.body, shown, range, finalUntil, compared);
      renderLiveNote(state.live, finalUntil, headerTime(timeline.headers.get("X-Batch-Run")));
      renderTop(top.body, order);
      renderCards(totals.body, order, compared);
      showNote(shown !== interval
        ? `Counts are stored per ${shown}, not per ${interval}: showing ${shown}s.` : "");
      const buckets = Number(timeline.headers.get("X-Buckets")) || 0;
      $("timeline-caption").textContent = `per ${shown} · ${buckets} bucket${buckets === 1 ? "" : "s"}`;
      $("top-caption").textContent = `top ${TOP_N} · ${state.metric}`;
      $("updated").textContent = `updated ${moment().format("LTS")}` + (state.live ? " · live" : "");
      await refreshAlerts();
      if (!current()) return;
      setState(empty ? "empty" : "ready");
      document.dispatchEvent(new CustomEvent("dashboard:refreshed", { detail: { ...filters, live: state.live } }));
    } catch (err) {
      if (!current()) return;
      // a 5xx or no answer may pass (Elasticsearch restarting); a 4xx needs another view
      state.retry = !(err.status >= 400 && err.status < 500);
      showError(state.retry ? `${err.message}; asking again every ${REFRESH_MS / 1000} s` : err.message);
      // charts never drawn say so (drawn ones stay, faded); the alerts and the images are
      // asked for anyway: what failed may be the charts' query alone (a range too long)
      for (const name of Object.keys(charts)) {
        if (!charts[name]) showEmpty(name, "Not drawn: the data could not be loaded (see above)");
      }
      await refreshAlerts();
      if (!current()) return;
      setState("error");
      if (filters) document.dispatchEvent(new CustomEvent("dashboard:refreshed", { detail: filters }));
    } finally {
      if (current()) scheduleNext();
    }
  }

  // The gallery (gallery.js) follows the filters and shows a clicked bucket's images.
  function showBucket(bucket) {
    document.dispatchEvent(new CustomEvent("dashboard:bucket", { detail: bucket }));
  }

  const headerTime = (value) => (value && value !== "none" ? value : null);

  // The alerts fired (newest first): apart from the charts, so a failure here hides nothing else.
  async function refreshAlerts() {
    const list = $("alerts");
    let found;
    try {
      found = (await api("/api/alerts", { limit: 10 })).body.alerts;
    } catch (err) {
      found = null;
    }
    const items = (found || []).map((alert) => {
      const item = document.createElement("li");
      item.dataset.bucket = alert.bucket_start;
      const count = document.createElement("span");
      count.className = "alert-count";
      count.textContent = formatCount(alert.count);
      const what = document.createElement("span");
      what.textContent = `${alert.rule}: in the ${alert.interval} from ${moment(alert.bucket_start).format("lll")}`;
      const hook = document.createElement("span");
      hook.className = "muted";
      hook.textContent = `webhook ${alert.webhook}`;
      item.append(count, what, hook);
      return item;
    });
    if (!items.length) {
      const none = document.createElement("li");
      none.className = "none";
      none.textContent = found === null ? "Alerts could not be read." : "No alert has fired.";
      items.push(none);
    }
    list.replaceChildren(...items);
  }

  // The series to draw beside the main ones, for the same labels: those of the period
  // before, or of the other source; null when nothing is compared.
  // With them, the totals of the same query there (`totals`: {label: count}, `total`), for
  // the cards.
  async function comparison(range, common, labels) {
    if (!state.compare || !labels.length) return null;
    const mainName = state.compare === "previous" ? "this period" : state.source || "all sources";
    const before = state.compare === "previous" ? previousRange(range) : null;
    const there = before ? { from: before.from, to: before.to } : { source: state.vs };
    const [timeline, totals] = await Promise.all([
      api("/api/timeline", { ...common, ...there, label: labels }),
      api("/api/totals", { ...common, ...there, label: state.labels }),
    ]);
    return {
      series: timeline.body, mainName, shiftMs: before ? before.shiftMs : 0,
      name: before ? "period before" : state.vs || "all sources",
      totals: Object.fromEntries(totals.body.totals.map((row) => [row.label, row.count])),
      total: totals.body.total,
    };
  }

  // One timer at a time: the next refresh after this one. Live buckets on screen mean a
  // short period; otherwise the 30 s auto-refresh if switched on, or after a failure that
  // may pass. Nothing while hidden.
  function scheduleNext() {
    clearTimeout(state.timer);
    state.timer = null;
    if (document.hidden) return;
    const delay = state.live ? LIVE_REFRESH_MS : ($("auto-refresh").checked || state.retry ? REFRESH_MS : null);
    if (delay !== null) state.timer = setTimeout(refresh, delay);
  }

  // ---- controls ------------------------------------------------------------------------
  function toLocalInput(date) {
    return moment(date).format("YYYY-MM-DDTHH:mm");
  }

  function wire() {
    $("presets").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-range]");
      if (!button) return;
      for (const other of $("presets").querySelectorAll("button")) other.classList.toggle("active", other === button);
      const custom = button.dataset.range === "custom";
      $("custom-range").hidden = !custom;
      if (custom) {
        if (!$("custom-from").value) {
          $("custom-from").value = toLocalInput(Date.now() - 86400e3);
          $("custom-to").value = toLocalInput(Date.now());
        }
        return;  // applied with the form's button
      }
      state.range = button.dataset.range;
      navigate();
    });
    $("custom-range").addEventListener("submit", (event) => {
      event.preventDefault();
      // datetime-local holds local wall time; the API gets UTC with an explicit zone.
      const from = new Date($("custom-from").value);
      const to = new Date($("custom-to").value);
      if (isNaN(from) || isNaN(to) || from >= to) {
        showError("the custom range needs a start before its end");
        setState("error");
        return;
      }
      state.range = "custom";
      state.custom = { from: from.toISOString(), to: to.toISOString() };
      navigate();
    });
    $("labels").addEventListener("click", (event) => {
      const chip = event.target.closest(".chip");
      if (!chip) return;
      const label = chip.dataset.label;
      state.labels = state.labels.includes(label)
        ? state.labels.filter((name) => name !== label) : [...state.labels, label];
      navigate();
    });
    for (const id of ["interval", "metric", "source", "compare", "vs"]) {
      $(id).addEventListener("change", (event) => { state[id] = event.target.value; navigate(); });
    }
    // back and forward: the view of that history entry
    window.addEventListener("popstate", () => {
      readUrl(); showState(); document.dispatchEvent(new CustomEvent("dashboard:navigated")); refresh();
    });
    $("auto-refresh").addEventListener("change", scheduleNext);
    // a hidden tab asks nothing; back in view, it catches up at once
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) { clearTimeout(state.timer); state.timer = null; } else { refresh(); }
    });
  }

  if (typeof Chart === "undefined" || typeof moment === "undefined") {
    showError("the chart libraries did not load: run `make setup` (npm ci --prefix simple_frontend)");
    setState("error");
    return;
  }
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#475569";
  // For tests and curious users: the live chart objects and filter state.
  window.dashboard = { charts, state, refresh, maxBuckets: MAX_BUCKETS };
  readUrl();
  showState();
  wire();
  refresh();
})();
