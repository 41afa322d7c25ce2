/* The lineage page (flowledger view): draws the graph on a canvas at the positions flowledger computed,
   pans and zooms, shows the fields of the clicked node in a side panel, and searches node names.
   Reads the page's JSON; needs no library and no network.
   For tests and benchmarks: window.flowledger and window.flowledgerRendered (set after the first frame). */
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("flowledger-data").textContent);
  const [NODE_WIDTH, NODE_HEIGHT] = data.node_size;

  // status -> [fill, border]; manager -> [name, shape]; file mark -> [sign, meaning, colour, border]
  const STATUS = {
    completed: ["#e3f4e4", "#2e7d32"],
    errored: ["#fde4e4", "#c62828"],
    cached: ["#e1edfb", "#1565c0"],
    aborted: ["#fff0dc", "#e65100"],
    unfinished: ["#f1e6f7", "#6a1b9a"],
    started: ["#fff8d6", "#b7950b"],
    scheduled: ["#eef0f2", "#7b8794"],
  };
  const MANAGERS = {
    snakemake: ["Snakemake", "round"],
    nextflow: ["Nextflow", "cut"],
    redun: ["redun", "barrel"],
    python: ["script or notebook", "ellipse"],
    flowledger: ["Python API", "rect"],
  };
  const MARKS = {
    deleted: ["✕", "deleted when recorded", "#c62828", "dashed"],
    missing: ["∅", "missing now", "#c62828", "dashed"],
    changed: ["Δ", "changed since recorded", "#e65100", "thick"],
    superseded: ["", "a newer version is recorded", "#7b8794", "dotted"],
  };
  const FILE = ["#ffffff", "#8a94a6"];
  const EDGE = "#9aa5b1";
  const NEAR = "#1a56db";
  const SAME_BYTES = "#00897b";
  const HIGHLIGHTS = ["wildcards", "tag", "sample", "params", "params_positional", "threads", "resources",
    "attempt", "container", "workdir", "reason", "tags"];
  const COMMANDS = ["shellcmd", "script", "cmd", "command_line", "args"];
  const LISTED = 100;
  const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

  // ---- the graph: nodes (boxes first, outer before inner) and edges ---------------------------------
  const nodes = data.nodes.slice().sort((a, b) => (b.width || 0) * (b.height || 0) - (a.width || 0) * (a.height || 0));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  for (const n of nodes) {
    n.box = Boolean(n.jobs_shown);
    n.w = n.box ? n.width : NODE_WIDTH;
    n.h = n.box ? n.height : NODE_HEIGHT;
    const mark = n.mark ? MARKS[n.mark] : null;
    if (n.box) {
      const jobs = n.jobs_shown === n.jobs ? `${n.jobs} jobs` : `${n.jobs_shown} of ${n.jobs} jobs`;
      n.text = `${MANAGERS[n.manager][0]}: ${n.name} · ${n.status} · ${jobs}`;
    } else {
      n.text = mark && mark[0] ? `${mark[0]} ${n.label}` : n.label;
    }
    const [fill, border] = n.kind === "run" ? STATUS[n.status] || STATUS.scheduled : FILE;
    n.fill = n.box ? "#f5f7fa" : fill;
    n.stroke = mark ? mark[2] : border;
    n.border = mark ? mark[3] : "solid";
    n.shape = n.box ? "round" : n.kind === "run" ? MANAGERS[n.manager][1] : "rect";
    n.ink = mark ? mark[2] : "#1f2933";
    n.style = `${n.shape}|${n.fill}|${n.stroke}|${n.border}`;
  }
  const edges = data.edges.map(([source, target, role]) => ({ s: byId.get(source), t: byId.get(target), role }));
  const incoming = new Map();
  const outgoing = new Map();
  for (const e of edges) {
    push(outgoing, e.s.id, e);
    push(incoming, e.t.id, e);
  }
  function push(map, key, value) {
    if (!map.has(key)) map.set(key, []);
    map.get(key).push(value);
  }
  const plain = edges.filter((e) => e.role !== "replicated");
  const sameBytes = edges.filter((e) => e.role === "replicated");
  const boxes = nodes.filter((n) => n.box);
  const leaves = nodes.filter((n) => !n.box);
  const groups = new Map(); // style -> nodes: one path, one fill and one stroke per style
  for (const n of leaves) push(groups, n.style, n);

  // a grid of cells for finding the node under the pointer
  const CELL = 400;
  const grid = new Map();
  for (const n of leaves) {
    for (let cx = Math.floor((n.x - n.w / 2) / CELL); cx <= Math.floor((n.x + n.w / 2) / CELL); cx++) {
      for (let cy = Math.floor((n.y - n.h / 2) / CELL); cy <= Math.floor((n.y + n.h / 2) / CELL); cy++) {
        push(grid, `${cx},${cy}`, n);
      }
    }
  }
  function inside(n, x, y) {
    return Math.abs(x - n.x) <= n.w / 2 && Math.abs(y - n.y) <= n.h / 2;
  }
  function nodeAt(x, y) { // world coordinates; a node before the (innermost) box around it
    const found = (grid.get(`${Math.floor(x / CELL)},${Math.floor(y / CELL)}`) || []).find((n) => inside(n, x, y));
    return found || boxes.slice().reverse().find((n) => inside(n, x, y)) || null;
  }

  // ---- drawing ------------------------------------------------------------------------------------
  const container = document.getElementById("graph");
  const canvas = document.createElement("canvas");
  container.append(canvas);
  const ctx = canvas.getContext("2d");
  const view = { x: 0, y: 0, k: 1 }; // screen = world * k + (x, y), in CSS pixels
  let width = 0;
  let height = 0;
  let ratio = 1;
  let selected = null;
  let near = new Set(); // edges of the selected node
  let hits = null; // search matches (and their boxes), or null when not searching
  let frameRequested = false;
  const frame = { nodes: 0, edges: 0, ms: 0 }; // what the last frame drew, and how long it took

  function resize() {
    ratio = window.devicePixelRatio || 1;
    width = container.clientWidth;
    height = container.clientHeight;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
  }

  function redraw() {
    if (frameRequested) return;
    frameRequested = true;
    requestAnimationFrame(() => { frameRequested = false; draw(); });
  }

  function shape(n, pad) {
    const w = n.w + 2 * pad;
    const h = n.h + 2 * pad;
    const left = n.x - w / 2;
    const top = n.y - h / 2;
    switch (n.shape) {
      case "round":
        if (ctx.roundRect) { ctx.roundRect(left, top, w, h, Math.min(8, h / 3)); break; }
        ctx.rect(left, top, w, h); break;
      case "ellipse":
        ctx.moveTo(left + w, n.y); ctx.ellipse(n.x, n.y, w / 2, h / 2, 0, 0, 2 * Math.PI); break;
      case "cut": {
        const c = h / 4;
        ctx.moveTo(left + c, top); ctx.lineTo(left + w - c, top); ctx.lineTo(left + w, top + c);
        ctx.lineTo(left + w, top + h - c); ctx.lineTo(left + w - c, top + h); ctx.lineTo(left + c, top + h);
        ctx.lineTo(left, top + h - c); ctx.lineTo(left, top + c); ctx.closePath(); break;
      }
      case "barrel": {
        const c = h / 3;
        ctx.moveTo(left + c, top); ctx.lineTo(left + w - c, top); ctx.quadraticCurveTo(left + w + c / 2, n.y, left + w - c, top + h);
        ctx.lineTo(left + c, top + h); ctx.quadraticCurveTo(left - c / 2, n.y, left + c, top); ctx.closePath(); break;
      }
      default:
        ctx.rect(left, top, w, h);
    }
  }

  function visible(n, bounds) {
    return n.x + n.w / 2 >= bounds[0] && n.x - n.w / 2 <= bounds[2] && n.y + n.h / 2 >= bounds[1] && n.y - n.h / 2 <= bounds[3];
  }

  function ends(e) { // left to right when the target lies to the right, else centre to centre
    const { s, t } = e;
    if (t.x - t.w / 2 > s.x + s.w / 2) return [s.x + s.w / 2, s.y, t.x - t.w / 2, t.y];
    return [s.x, s.y, t.x, t.y];
  }

  function drawEdges(list, bounds, colour, dash, skip) {
    const k = view.k;
    const arrows = k > 0.25;
    ctx.beginPath();
    const heads = [];
    for (const e of list) {
      if (skip && near.has(e)) continue;
      const [x1, y1, x2, y2] = ends(e);
      if (Math.max(x1, x2) < bounds[0] || Math.min(x1, x2) > bounds[2] || Math.max(y1, y2) < bounds[1] || Math.min(y1, y2) > bounds[3]) continue;
      frame.edges += 1;
      ctx.moveTo(x1, y1);
      if (x2 > x1 + 1) {
        const bend = (x2 - x1) / 2;
        ctx.bezierCurveTo(x1 + bend, y1, x2 - bend, y2, x2, y2);
        heads.push([x2, y2, 0]);
      } else {
        ctx.lineTo(x2, y2);
        heads.push([x2, y2, Math.atan2(y2 - y1, x2 - x1)]);
      }
    }
    ctx.setLineDash(dash ? [6, 4] : []);
    ctx.strokeStyle = colour;
    ctx.lineWidth = Math.max(1.2, 1 / k);
    ctx.stroke();
    ctx.setLineDash([]);
    if (!arrows) return;
    ctx.beginPath();
    for (const [x, y, angle] of heads) {
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      ctx.moveTo(x, y);
      ctx.lineTo(x - 8 * cos + 4 * sin, y - 8 * sin - 4 * cos);
      ctx.lineTo(x - 8 * cos - 4 * sin, y - 8 * sin + 4 * cos);
      ctx.closePath();
    }
    ctx.fillStyle = colour;
    ctx.fill();
  }

  function drawNodes(list, bounds) {
    const k = view.k;
    const [, fill, stroke, border] = list[0].style.split("|");
    ctx.beginPath();
    let any = false;
    for (const n of list) {
      if (!visible(n, bounds)) continue;
      shape(n, 0);
      frame.nodes += 1;
      any = true;
    }
    if (!any) return;
    ctx.fillStyle = fill;
    ctx.fill();
    ctx.strokeStyle = stroke;
    ctx.lineWidth = Math.max(border === "thick" ? 3.5 : 1.5, 1 / k);
    ctx.setLineDash(border === "dashed" ? [5, 3] : border === "dotted" ? [2, 3] : []);
    ctx.stroke();
    ctx.setLineDash([]);
  }

  function drawLabels(list, bounds) {
    ctx.font = `11px ${FONT}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (const n of list) {
      if (!visible(n, bounds)) continue;
      if (n.fitted === undefined) n.fitted = fit(n.text, NODE_WIDTH - 14);
      ctx.fillStyle = n.ink;
      ctx.fillText(n.fitted, n.x, n.y + 0.5);
    }
  }

  function fit(text, room) {
    if (ctx.measureText(text).width <= room) return text;
    let low = 0;
    let high = text.length;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (ctx.measureText(text.slice(0, middle) + "…").width <= room) low = middle; else high = middle - 1;
    }
    return text.slice(0, low) + "…";
  }

  function draw() {
    const began = performance.now();
    const k = view.k;
    frame.nodes = 0;
    frame.edges = 0;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, width, height);
    ctx.setTransform(ratio * k, 0, 0, ratio * k, ratio * view.x, ratio * view.y);
    const bounds = [-view.x / k, -view.y / k, (width - view.x) / k, (height - view.y) / k];
    const dim = (n) => hits !== null && !hits.has(n);

    for (const n of boxes) { // boxes: the workflow runs
      if (!visible(n, bounds)) continue;
      frame.nodes += 1;
      ctx.globalAlpha = dim(n) ? 0.25 : 1;
      ctx.beginPath();
      shape(n, 0);
      ctx.fillStyle = n.fill;
      ctx.fill();
      ctx.strokeStyle = (STATUS[n.status] || STATUS.scheduled)[1];
      ctx.lineWidth = Math.max(2, 1.5 / k);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    const underlay = (n, colour, alpha) => {
      ctx.beginPath();
      shape(n, n.box ? 6 / k : 6);
      ctx.globalAlpha = alpha;
      ctx.fillStyle = colour;
      ctx.fill();
      ctx.globalAlpha = 1;
    };
    if (hits) for (const n of hits) if (!n.box && visible(n, bounds)) underlay(n, "#f0b429", 0.85);
    if (selected) underlay(selected, NEAR, selected.box ? 0.1 : 0.3);

    ctx.globalAlpha = hits ? 0.18 : 1;
    drawEdges(plain, bounds, EDGE, false, true);
    drawEdges(sameBytes, bounds, SAME_BYTES, true, true);
    ctx.globalAlpha = 1;
    if (near.size) drawEdges([...near], bounds, NEAR, false, false);
    for (const list of groups.values()) {
      const shown = hits ? list.filter((n) => !hits.has(n)) : list;
      ctx.globalAlpha = hits ? 0.18 : 1;
      if (shown.length) drawNodes(shown, bounds);
      ctx.globalAlpha = 1;
      if (hits) {
        const found = list.filter((n) => hits.has(n));
        if (found.length) drawNodes(found, bounds);
      }
    }
    if (11 * k >= 6) { // labels, once they are big enough to read
      ctx.globalAlpha = hits ? 0.3 : 1;
      drawLabels(hits ? leaves.filter((n) => !hits.has(n)) : leaves, bounds);
      ctx.globalAlpha = 1;
      if (hits) drawLabels(leaves.filter((n) => hits.has(n)), bounds);
      if (9 * k >= 6) {
        ctx.font = `9px ${FONT}`;
        for (const e of sameBytes) {
          const [x1, y1, x2, y2] = ends(e);
          ctx.fillStyle = "#ffffff";
          ctx.fillRect((x1 + x2) / 2 - 26, (y1 + y2) / 2 - 7, 52, 14);
          ctx.fillStyle = SAME_BYTES;
          ctx.fillText("same bytes", (x1 + x2) / 2, (y1 + y2) / 2);
        }
      }
    }
    const size = Math.max(14, 13 / k); // a box's title stays readable from afar
    ctx.font = `600 ${size}px ${FONT}`;
    ctx.textAlign = "left";
    ctx.textBaseline = "bottom";
    for (const n of boxes) {
      if (!visible(n, bounds)) continue;
      ctx.globalAlpha = dim(n) ? 0.3 : 1;
      ctx.fillStyle = "#1f2933";
      ctx.fillText(n.text, n.x - n.w / 2 + 4, n.y - n.h / 2 - size / 3);
    }
    ctx.globalAlpha = 1;
    frame.ms = performance.now() - began;
  }

  // ---- moving around --------------------------------------------------------------------------------
  const MIN_ZOOM = 0.005;
  const MAX_ZOOM = 4;
  let animation = null;

  function zoomAt(factor, sx, sy) {
    const k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, view.k * factor));
    view.x = sx - ((sx - view.x) * k) / view.k;
    view.y = sy - ((sy - view.y) * k) / view.k;
    view.k = k;
    redraw();
  }

  function target(x, y, k) { // the view that shows world point (x, y) in the middle at zoom k
    return { x: width / 2 - x * k, y: height / 2 - y * k, k };
  }

  function fitTo(left, top, right, bottom, most) {
    const k = Math.min(most, Math.max(MIN_ZOOM, Math.min((width - 80) / Math.max(right - left, 1), (height - 80) / Math.max(bottom - top, 1))));
    return target((left + right) / 2, (top + bottom) / 2, k);
  }

  function go(to, animate) {
    cancelAnimationFrame(animation);
    if (!animate) { Object.assign(view, to); redraw(); return; }
    const from = { ...view };
    const began = performance.now();
    const step = (now) => {
      const t = Math.min(1, (now - began) / 250);
      const ease = t * (2 - t);
      for (const key of ["x", "y", "k"]) view[key] = from[key] + (to[key] - from[key]) * ease;
      draw();
      if (t < 1) animation = requestAnimationFrame(step);
    };
    animation = requestAnimationFrame(step);
  }

  function clamp(to) { // no empty margin where more of the graph could be shown
    const [left, top, right, bottom] = data.extent;
    const axis = (offset, low, high, size) => ((high - low) * to.k + 80 <= size
      ? size / 2 - ((low + high) / 2) * to.k
      : Math.min(40 - low * to.k, Math.max(size - 40 - high * to.k, offset)));
    return { x: axis(to.x, left, right, width), y: axis(to.y, top, bottom, height), k: to.k };
  }

  function fitAll(animate) {
    go(fitTo(...data.extent, 1.2), animate);
  }

  const pointers = new Map();
  let moved = 0;
  let pinch = null;
  function local(event) {
    const box = canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }
  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    pointers.set(event.pointerId, local(event));
    moved = 0;
    pinch = null;
    tooltip.hidden = true;
  });
  canvas.addEventListener("pointermove", (event) => {
    const point = local(event);
    if (!pointers.has(event.pointerId)) { hover(point, event); return; }
    const last = pointers.get(event.pointerId);
    pointers.set(event.pointerId, point);
    if (pointers.size === 2) { // pinch: zoom about the middle of the two fingers
      const [a, b] = [...pointers.values()];
      const distance = Math.hypot(a[0] - b[0], a[1] - b[1]);
      if (pinch) zoomAt(distance / pinch, (a[0] + b[0]) / 2, (a[1] + b[1]) / 2);
      pinch = distance;
      moved += 10;
      return;
    }
    view.x += point[0] - last[0];
    view.y += point[1] - last[1];
    moved += Math.abs(point[0] - last[0]) + Math.abs(point[1] - last[1]);
    redraw();
  });
  const release = (event) => {
    if (!pointers.has(event.pointerId)) return;
    pointers.delete(event.pointerId);
    if (moved < 5 && event.type === "pointerup") {
      const [sx, sy] = local(event);
      const n = nodeAt((sx - view.x) / view.k, (sy - view.y) / view.k);
      if (n) select(n.id, false);
    }
  };
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const lines = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? height : 1;
    const [sx, sy] = local(event);
    zoomAt(Math.exp(-event.deltaY * lines * 0.0015), sx, sy);
  }, { passive: false });
  canvas.addEventListener("dblclick", (event) => zoomAt(2, ...local(event)));
  new ResizeObserver(() => { resize(); redraw(); }).observe(container);

  const tooltip = document.getElementById("tooltip");
  function hover([sx, sy], event) {
    const n = nodeAt((sx - view.x) / view.k, (sy - view.y) / view.k);
    canvas.style.cursor = n ? "pointer" : "grab";
    if (!n) { tooltip.hidden = true; return; }
    tooltip.textContent = n.kind === "run" ? `${n.name} · ${n.status} · run ${n.uid}` : `${n.path}${n.hash ? "\n" + n.hash : ""}`;
    tooltip.style.left = `${event.clientX + 14}px`;
    tooltip.style.top = `${event.clientY + 14}px`;
    tooltip.hidden = false;
  }
  canvas.addEventListener("pointerleave", () => { tooltip.hidden = true; });

  // ---- the side panel -------------------------------------------------------------------------------
  const panel = document.getElementById("panel");

  function h(tag, attributes, ...children) {
    const element = document.createElement(tag);
    Object.assign(element, attributes || {});
    for (const child of children) {
      if (child !== null && child !== undefined && child !== false) element.append(child);
    }
    return element;
  }
  function fields(rows) {
    const dl = h("dl");
    for (const [name, value] of rows) {
      if (value === null || value === undefined || value === "") continue;
      dl.append(h("dt", { textContent: name }), h("dd", {}, typeof value === "object" ? value : String(value)));
    }
    return dl;
  }
  function pre(text, className) {
    return h("pre", { textContent: text, className: className || "" });
  }
  function code(text) {
    return h("code", { textContent: text });
  }
  function badge(text, colour) {
    const element = h("span", { className: "badge", textContent: text });
    element.style.color = colour;
    return element;
  }
  function nodeLink(id, text) {
    if (!id || !byId.has(id)) return document.createTextNode(text);
    const a = h("a", { textContent: text, href: "#" + id });
    a.addEventListener("click", (event) => { event.preventDefault(); select(id, true); });
    return a;
  }
  function runRef([id, uid, name, status]) { // a run on the page is named and described as it is drawn
    const n = byId.get(id);
    return h("span", {}, nodeLink(id, n ? n.label : name || uid), ` · ${n ? n.status : status} · `, code(uid));
  }
  function list(items, render, total) {
    const ul = h("ul");
    items.slice(0, LISTED).forEach((item) => ul.append(h("li", {}, render(item))));
    const more = (total || items.length) - Math.min(items.length, LISTED);
    if (more > 0) ul.append(h("li", { className: "more", textContent: `and ${more} more` }));
    return ul;
  }
  function text(value) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      return Object.entries(value).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
    }
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  function when(stamp) { // ISO 8601 in UTC, as recorded -> "2025-01-15 14:30:01 UTC"
    if (!stamp) return null;
    return stamp.endsWith("+00:00") ? `${stamp.slice(0, 19).replace("T", " ")} UTC` : stamp;
  }
  function size(bytes) {
    if (bytes === undefined || bytes === null) return null;
    const units = ["bytes", "kB", "MB", "GB", "TB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
    return unit ? `${value.toFixed(1)} ${units[unit]} (${bytes.toLocaleString("en")} bytes)` : `${bytes} bytes`;
  }
  function files(id, map, role, end) {
    const ids = (map.get(id) || []).filter((e) => e.role === role).map((e) => e[end].id);
    return [ids.length, list(ids, (other) => nodeLink(other, byId.get(other).path || byId.get(other).label))];
  }

  function showRun(n) {
    const [, colour] = STATUS[n.status] || STATUS.scheduled;
    const transform = data.transforms[n.transform] || {};
    const parent = n.parent ? byId.get(n.parent) : null;
    panel.append(
      h("h2", { textContent: n.label }),
      h("div", { className: "kind" }, badge(n.status, colour), `${n.type} run · ${MANAGERS[n.manager][0]}`),
      fields([
        ["name", n.name],
        ["run uid", code(n.uid)],
        ["started", when(n.started_at)],
        ["finished", when(n.finished_at)],
        ["duration", n.duration],
        ["exit code", n.exit_code],
        ["reference", n.reference ? `${n.reference_type}: ${n.reference}` : null],
        ["workflow run", parent ? nodeLink(parent.id, `${parent.name} (${parent.uid})`) : null],
        ["jobs", n.jobs ? `${n.jobs} (${n.jobs_shown} on this page)` : null],
        ["user", n.user],
        ["host", n.host],
        ["environment", n.environment],
        ["report", n.report],
      ]),
    );
    if (n.error) panel.append(h("h3", { textContent: "Error" }), pre(n.error, "error"));
    const recorded = n.json || {};
    const highlights = HIGHLIGHTS.filter((key) => recorded[key] !== undefined && recorded[key] !== null);
    if (highlights.length) {
      panel.append(h("h3", { textContent: "Parameters" }), fields(highlights.map((key) => [key, text(recorded[key])])));
    }
    const command = COMMANDS.find((key) => recorded[key]);
    if (command) panel.append(h("h3", { textContent: `Command (${command})` }), pre(text(recorded[command])));
    for (const [title, map, role, end] of [["Read", incoming, "input", "s"], ["Wrote", outgoing, "output", "t"],
      ["Reproduced: wrote the same bytes again", outgoing, "replicated", "t"]]) {
      const [count, ul] = files(n.id, map, role, end);
      if (count) panel.append(h("h3", { textContent: `${title} (${count})` }), ul);
    }
    panel.append(h("h3", { textContent: "Code" }), fields([
      ["transform", `${transform.name || n.name}${transform.version ? " " + transform.version : ""} (${transform.type || n.type})`],
      ["transform uid", transform.uid ? code(transform.uid) : null],
      ["source", transform.reference ? `${transform.reference_type || "reference"}: ${transform.reference}` : null],
      ["description", transform.description],
    ]));
    if (transform.source_code) panel.append(pre(transform.source_code));
    if (Object.keys(recorded).length) {
      panel.append(h("details", {}, h("summary", { textContent: "Everything recorded (json)" }), pre(JSON.stringify(recorded, null, 2))));
    }
  }

  function showArtifact(n) {
    const mark = n.mark ? MARKS[n.mark] : null;
    const now = mark ? mark[1] + (n.check_detail ? ` (${n.check_detail})` : "")
      : n.file_kind === "reference" ? null : data.checked ? "unchanged" : "not checked";
    panel.append(
      h("h2", { textContent: n.label }),
      h("div", { className: "kind" }, mark ? badge(mark[1], mark[2]) : null, `${n.file_kind} · version ${n.version}`),
      fields([
        ["path", code(n.path)],
        ["as given", n.user_path ? code(n.user_path) : null],
        ["size", size(n.size)],
        ["hash", n.hash ? code(n.hash) : null],
        ["version", `${n.version}${n.latest ? " (latest)" : ""}`],
        ["on disk now", now],
        ["recorded", when(n.created_at)],
        ["host", n.host],
        ["uid", code(n.uid)],
        ["description", n.description],
      ]),
      h("h3", { textContent: "Made by" }),
      n.made_by ? runRef(n.made_by) : h("span", { textContent: "no run: a raw input" }),
    );
    if (n.read_by) {
      panel.append(h("h3", { textContent: `Read by (${n.read_by.total})` }), list(n.read_by.runs, runRef, n.read_by.total));
    }
    if (n.reproduced_by) {
      panel.append(
        h("h3", { textContent: `Reproduced by re-runs: the same bytes (${n.reproduced_by.total})` }),
        list(n.reproduced_by.runs, runRef, n.reproduced_by.total),
      );
    }
    if (n.versions) {
      const table = h("table", {}, h("tr", {}, ...["v", "hash", "recorded", "made by run"].map((t) => h("th", { textContent: t }))));
      for (const v of n.versions) {
        table.append(h("tr", { className: v.version === n.version ? "current" : "" },
          h("td", {}, nodeLink(v.id, String(v.version) + (v.deleted ? " ✕" : ""))),
          h("td", {}, code(v.hash ? v.hash.slice(0, 19) : "")),
          h("td", { textContent: when(v.created_at) || "" }),
          h("td", {}, code(v.made_by || "raw input"))));
      }
      panel.append(h("h3", { textContent: `Versions of this path (${n.versions.length})` }), table);
    }
  }

  function select(id, reveal) {
    const n = byId.get(id);
    if (!n) return;
    selected = n;
    near = new Set([...(incoming.get(id) || []), ...(outgoing.get(id) || [])]);
    panel.replaceChildren();
    if (n.kind === "run") showRun(n); else showArtifact(n);
    panel.scrollTop = 0;
    if (reveal) go(n.box ? fitTo(n.x - n.w / 2, n.y - n.h / 2, n.x + n.w / 2, n.y + n.h / 2, 1.2) : target(n.x, n.y, Math.max(view.k, 0.8)), true);
    else redraw();
  }

  // ---- search -------------------------------------------------------------------------------------
  const input = document.getElementById("search");
  const count = document.getElementById("matches");
  const haystack = nodes.map((n) => [n, [n.label, n.name, n.path, n.user_path, n.uid].filter(Boolean).join("\n").toLowerCase()]);
  let found = [];
  let timer = null;

  function search(query) {
    const q = query.trim().toLowerCase();
    found = q ? haystack.filter(([, words]) => words.includes(q)).map(([n]) => n) : [];
    hits = q ? new Set(found) : null;
    for (const n of found) { // the boxes around a match stay lit
      for (let box = byId.get(n.parent); box && !hits.has(box); box = byId.get(box.parent)) hits.add(box);
    }
    count.textContent = q ? `${found.length} match${found.length === 1 ? "" : "es"}` : "";
    redraw();
    return found.map((n) => n.id);
  }
  function reveal() {
    if (!found.length) return;
    if (found.length === 1) { select(found[0].id, true); return; }
    const left = Math.min(...found.map((n) => n.x - n.w / 2));
    const top = Math.min(...found.map((n) => n.y - n.h / 2));
    const right = Math.max(...found.map((n) => n.x + n.w / 2));
    const bottom = Math.max(...found.map((n) => n.y + n.h / 2));
    go(fitTo(left, top, right, bottom, 1.2), true);
  }
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => search(input.value), 120);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { clearTimeout(timer); search(input.value); reveal(); }
    if (event.key === "Escape") { input.value = ""; search(""); }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "/" && document.activeElement !== input) { event.preventDefault(); input.focus(); }
  });
  document.getElementById("fit").addEventListener("click", () => fitAll(true));

  // ---- header and legend --------------------------------------------------------------------------
  const c = data.counts;
  document.getElementById("summary").textContent =
    `${c.runs} runs, ${c.artifacts} files, ${c.edges} links (${data.direction}) · ledger ${data.ledger} · ${data.generated_at}`;
  const legend = h("div", { className: "items" });
  function item(fill, border, words, style) {
    const swatch = h("span", { className: "swatch" });
    swatch.style.background = fill;
    swatch.style.borderColor = border;
    if (style) swatch.style.borderStyle = style;
    legend.append(h("span", { className: "item" }, swatch, words));
  }
  for (const [status, [fill, border]] of Object.entries(STATUS)) item(fill, border, status);
  item(FILE[0], FILE[1], "file");
  for (const [sign, meaning, colour, border] of Object.values(MARKS)) {
    item(FILE[0], colour, `${sign ? sign + " " : ""}${meaning}`, border === "thick" ? "solid" : border);
  }
  item(FILE[0], SAME_BYTES, "same bytes, written again (a re-run)", "dashed");
  const shapes = Object.values(MANAGERS).map(([name, form]) => `${name}: ${form === "round" ? "rounded" : form}`).join(" · ");
  document.getElementById("legend-body").append(legend, h("div", { className: "item", textContent: "Run shapes: " + shapes }));

  // ---- the first view -------------------------------------------------------------------------------
  // Everything, when that is readable or the graph is large (its shape, then); else readable, from the
  // file the page is about, or from the start of the run, showing as much of the graph as fits.
  resize();
  const root = byId.get(data.root);
  const all = fitTo(...data.extent, 1.2);
  const READABLE = 0.8;
  if (all.k >= 0.7 || nodes.length > 300 || !root) go(all, false);
  else if (root.box) go(clamp({ x: 40 - data.extent[0] * READABLE, y: height / 2 - root.y * READABLE, k: READABLE }), false);
  else go(clamp(target(root.x, root.y, READABLE)), false);
  if (root) select(root.id, false);
  requestAnimationFrame(() => {
    draw();
    window.flowledgerRenderedAt = performance.now(); // milliseconds since navigation began
    window.flowledgerRendered = true;
  });

  window.flowledger = {
    data,
    view,
    frame,
    counts: { nodes: nodes.length, edges: edges.length },
    select,
    search,
    fit: () => fitAll(false),
    zoomAt,
    panBy(dx, dy) { view.x += dx; view.y += dy; redraw(); },
    centre(id) { const n = byId.get(id); go(target(n.x, n.y, view.k), false); },
    screenPosition(id) { // where node `id` is drawn, in page coordinates (for tests that click it)
      const n = byId.get(id);
      const box = canvas.getBoundingClientRect();
      return { x: box.left + n.x * view.k + view.x, y: box.top + n.y * view.k + view.y };
    },
  };
})();
