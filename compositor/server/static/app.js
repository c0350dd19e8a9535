// compositor studio: the page. Plain JavaScript, no libraries; it talks only to this server's /api/.
// Every user or server string is shown through textContent (never innerHTML), so none is read as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  plugins: null,
  photo: null,          // upload entry of the object photo
  box: null,            // [x, y, w, h] drawn on the photo, in the photo's pixels
  stickers: [],         // {sticker, mask, box, score, method, command}
  background: null,     // upload entry of the background (full-size width, height)
  objects: [],          // {sticker (entry), x, y, scale, rotation, anchor}: x, y in full-size background pixels
  selected: -1,
  paste: null,          // the last paste's response
  jobs: [],
};

// ------------------------------------------------------------------ helpers
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}
function showError(message) { $("error").textContent = message || ""; }
async function api(path, options = {}) {
  let response;
  try { response = await fetch(path, options); }
  catch {  // the browser's own words ("Failed to fetch") say nothing of what to do
    throw new Error("the server cannot be reached: is compositor serve still running?");
  }
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.blob();
  if (!response.ok) throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  return body;
}
function form(fields) {
  const data = new FormData();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) data.append(k, v);
  return data;
}
// numbers written for people
function seconds(s) {
  if (s == null) return "–";
  if (s < 1) return `${(s * 1000).toFixed(0)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
function num(v, digits = 1) { return v == null ? "–" : Number(v).toFixed(digits); }
function pct(v) { return `${(100 * v).toFixed(v < 0.1 ? 1 : 0)}%`; }

// ------------------------------------------------------------------ plugins and forms
async function loadPlugins() {
  state.plugins = await api("/api/plugins");
  const cutter = $("cutter");
  for (const p of state.plugins.cutters) {
    if (!p.ok) continue;
    cutter.append(el("option", { value: p.name, text: p.name }));
  }
  cutter.value = state.plugins.defaults.cutter;
  cutter.addEventListener("change", () => { $("recut").disabled = !state.photo; });
  const box = $("backends");
  for (const p of state.plugins.harmonizers) {
    if (!p.ok) { box.append(el("p", { class: "hint", text: `${p.name}: ${p.error}` })); continue; }
    const check = el("input", { type: "checkbox", value: p.name, "data-backend": p.name });
    if (p.name === state.plugins.defaults.harmonizer) check.checked = true;
    const fields = el("div", { class: "fields" });
    for (const s of p.settings) fields.append(settingInput(p.name, s));
    box.append(el("details", { class: "backend" },
      el("summary", {}, el("label", {}, check, ` ${p.name}`)),
      el("p", { class: "doc", text: p.doc || "" }), fields));
  }
  if (state.plugins.finish) {  // the finishing stage, its form from its declared settings too
    const fields = $("finish-fields");
    for (const s of state.plugins.finish.settings) fields.append(settingInput("finish", s));
    $("finish-doc").textContent = state.plugins.finish.doc || "";
    $("finish").hidden = false;
    lightDial();
    shadowRule();
  }
}

// what applies to the chosen shadow: a light only to a cast one, its opacity and softness only to a
// shadow (the stage refuses a value for one that changes nothing, as the command line does); the
// others are greyed out and not sent
function shadowRule() {
  const field = (name) => document.querySelector(`[data-backend="finish"][data-setting="${name}"]`);
  const shadow = field("shadow");
  if (!shadow) return;
  const apply = () => {
    const off = { light: shadow.value !== "cast", shadow_opacity: shadow.value === "none", shadow_softness: shadow.value === "none" };
    for (const [name, disabled] of Object.entries(off)) {
      const input = field(name);
      if (!input) continue;
      input.disabled = disabled;
      input.closest(".setting").classList.toggle("off", disabled);
      input.title = disabled ? (name === "light" ? "for a cast shadow" : "for a shadow") : "";
    }
    $("light").classList.toggle("off", off.light);
  };
  shadow.addEventListener("change", apply);
  shadow.addEventListener("shadow-set", apply);
  apply();
}

// the light direction as a dial: azimuth clockwise from the top of the picture, elevation 90 at the
// centre down to 0 at the rim, written into the "light" setting as AZIMUTH,ELEVATION
function lightDial() {
  const dial = $("light"), sun = dial.querySelector(".sun");
  const input = document.querySelector('[data-backend="finish"][data-setting="light"]');
  if (!input) { dial.hidden = true; return; }
  const show = () => {
    const m = /^\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*$/.exec(input.value);
    const [az, el] = m ? [Number(m[1]), Number(m[2])] : [0, 90];
    const r = (1 - Math.min(Math.max(el, 0), 90) / 90) * 42, a = az * Math.PI / 180;
    sun.style.left = `${42 + r * Math.sin(a)}px`;
    sun.style.top = `${42 - r * Math.cos(a)}px`;
  };
  let on = false;
  const set = (e) => {
    const b = dial.getBoundingClientRect();
    const dx = e.clientX - b.left - 42, dy = e.clientY - b.top - 42;
    const az = (Math.atan2(dx, -dy) * 180 / Math.PI + 360) % 360;
    const el = 90 * (1 - Math.min(Math.hypot(dx, dy), 42) / 42);
    input.value = `${Math.round(az)},${Math.round(el)}`;
    const shadow = document.querySelector('[data-backend="finish"][data-setting="shadow"]');
    if (shadow && shadow.value !== "cast") {  // a light direction is for a cast shadow
      shadow.value = "cast";
      shadow.dispatchEvent(new Event("shadow-set"));
    }
    show();
  };
  dial.addEventListener("pointerdown", (e) => { on = true; dial.setPointerCapture(e.pointerId); set(e); });
  dial.addEventListener("pointermove", (e) => on && set(e));
  dial.addEventListener("pointerup", () => { on = false; });
  input.addEventListener("input", show);
  show();
}

function settingInput(backend, s) {
  let input;
  const id = `set-${backend}-${s.name}`;
  if (s.choices) {
    input = el("select", { id });
    for (const c of s.choices) input.append(el("option", { value: String(c), text: String(c) }));
    input.value = String(s.default);
  } else if (s.type === "bool") {
    input = el("input", { id, type: "checkbox" });
    input.checked = !!s.default;
  } else if (s.type === "int" || s.type === "float") {
    input = el("input", { id, type: "number", step: s.type === "int" ? "1" : "any" });
    if (s.bounds) { if (s.bounds[0] != null) input.min = s.bounds[0]; if (s.bounds[1] != null) input.max = s.bounds[1]; }
    input.value = s.default == null ? "" : String(s.default);
    if (s.default == null) input.placeholder = "none";
  } else {
    input = el("input", { id, type: "text" });
    input.value = s.default == null ? "" : Array.isArray(s.default) ? s.default.join(",") : String(s.default);
    if (s.default == null) input.placeholder = "none";
  }
  input.dataset.backend = backend;
  input.dataset.setting = s.name;
  input.dataset.default = JSON.stringify(s.default);
  input.dataset.type = s.type;
  const label = el("label", { for: id, text: s.name, title: s.help });
  return el("div", { class: "setting", title: s.help }, label, input);
}

// the settings a user changed from their defaults, as the server (and --set) take them
function chosenSettings(backend) {
  const out = {};
  for (const input of document.querySelectorAll(`[data-backend="${backend}"][data-setting]`)) {
    if (input.disabled) continue;  // a setting that does not apply (the shadow's, with none)
    const def = JSON.parse(input.dataset.default);
    let value;
    if (input.type === "checkbox") value = input.checked;
    else if (input.dataset.type === "int" || input.dataset.type === "float") value = input.value === "" ? null : Number(input.value);
    else value = input.value === "" ? null : input.value;
    const same = Array.isArray(def) ? String(def.join(",")) === String(value) : def === value || (def == null && value == null);
    if (!same) out[input.dataset.setting] = value;
  }
  return out;
}

// ------------------------------------------------------------------ object photo and cut
function takeFiles(target, onFile) {
  target.addEventListener("dragover", (e) => { e.preventDefault(); target.classList.add("over"); });
  target.addEventListener("dragleave", () => target.classList.remove("over"));
  target.addEventListener("drop", (e) => {
    target.classList.remove("over");
    const file = e.dataTransfer.files && e.dataTransfer.files[0];
    if (file) { e.preventDefault(); onFile(file); }
  });
}

async function openPhoto(file) {
  showError("");
  $("cut-status").textContent = "uploading…";
  try {
    state.photo = await api("/api/uploads", { method: "POST", body: form({ file }) });
    state.box = null;
    $("photo-img").src = state.photo.preview;
    $("photo-view").hidden = false;
    $("box-draw").hidden = true;
    await cut();
  } catch (err) { showError(err.message); $("cut-status").textContent = ""; }
}

async function cut() {
  if (!state.photo) return;
  const method = $("cutter").value;
  $("cut-status").textContent = `cutting with ${method}…`;
  $("recut").disabled = true;
  try {
    const out = await api("/api/cut", { method: "POST", body: form({
      image_id: state.photo.id, method, box: state.box ? state.box.join(",") : null }) });
    state.stickers = out.stickers.map((s) => ({ ...s, command: out.command }));
    renderStickers();
    $("cut-status").textContent = `${out.stickers.length} object${out.stickers.length > 1 ? "s" : ""} cut in ${seconds(out.seconds)}`;
  } catch (err) { showError(err.message); $("cut-status").textContent = ""; }
  $("recut").disabled = false;
}

function renderStickers() {
  const box = $("stickers");
  box.replaceChildren();
  state.stickers.forEach((s, i) => {
    const img = el("img", { src: s.sticker.preview, alt: `sticker ${i + 1}`, draggable: "true", class: "sticker" });
    img.addEventListener("dragstart", (e) => e.dataTransfer.setData("text/x-sticker", String(i)));
    box.append(el("div", { class: "sticker-card" },
      el("div", { class: "pair" }, img, el("img", { src: s.mask.preview, alt: `mask ${i + 1}`, class: "mask" })),
      el("div", { class: "info", text: `${s.sticker.width}×${s.sticker.height} px · ${s.method}` }),
      el("button", { text: "place on background", class: "place", onclick: () => addObject(i) })));
  });
}

function photoBoxDrawing() {
  const view = $("photo-view"), img = $("photo-img"), box = $("box-draw");
  let start = null;
  view.addEventListener("pointerdown", (e) => {
    e.preventDefault();  // no native image drag: the pointer draws the box
    const r = img.getBoundingClientRect();
    start = [e.clientX - r.left, e.clientY - r.top];
    view.setPointerCapture(e.pointerId);
    box.hidden = false;
    Object.assign(box.style, { left: `${start[0]}px`, top: `${start[1]}px`, width: "0px", height: "0px" });
  });
  view.addEventListener("pointermove", (e) => {
    if (!start) return;
    const r = img.getBoundingClientRect();
    const x = Math.min(Math.max(e.clientX - r.left, 0), r.width), y = Math.min(Math.max(e.clientY - r.top, 0), r.height);
    Object.assign(box.style, { left: `${Math.min(x, start[0])}px`, top: `${Math.min(y, start[1])}px`,
      width: `${Math.abs(x - start[0])}px`, height: `${Math.abs(y - start[1])}px` });
  });
  view.addEventListener("pointerup", (e) => {
    if (!start) return;
    const r = img.getBoundingClientRect();
    const f = state.photo.width / r.width;
    const bx = parseFloat(box.style.left), by = parseFloat(box.style.top);
    const bw = parseFloat(box.style.width), bh = parseFloat(box.style.height);
    start = null;
    if (bw < 4 || bh < 4) { box.hidden = true; state.box = null; return; }
    state.box = [Math.round(bx * f), Math.round(by * f), Math.round(bw * f), Math.round(bh * f)];
    $("recut").disabled = false;
    $("cut-status").textContent = `box ${state.box.join(", ")}: press “cut again”`;
  });
}

// ------------------------------------------------------------------ background and objects
async function openBackground(file) {
  showError("");
  $("bg-info").textContent = "uploading…";
  try {
    state.background = await api("/api/uploads", { method: "POST", body: form({ file }) });
    const img = $("bg-img");
    img.src = state.background.preview;
    img.hidden = false;
    document.querySelector("#stage .empty").hidden = true;
    const mp = state.background.width * state.background.height / 1e6;
    $("bg-info").textContent = `${state.background.label}: ${state.background.width}×${state.background.height} px (${mp.toFixed(1)} MP)` +
      (Math.max(state.background.width, state.background.height) > 1600 ? ", shown as a preview; placements and results are full size" : "");
    img.onload = () => renderObjects();
    updateRun();
  } catch (err) { showError(err.message); $("bg-info").textContent = ""; }
}

function viewScale() {  // screen px per full-size background px
  const img = $("bg-img");
  return state.background ? img.getBoundingClientRect().width / state.background.width : 1;
}

function addObject(index, x, y) {
  if (!state.background) { showError("open a background first."); return; }
  const s = state.stickers[index];
  const bg = state.background;
  const scale = 0.3 * bg.height / s.sticker.height;  // 30% of the background's height to start with
  state.objects.push({ sticker: s.sticker, x: x ?? bg.width / 2, y: y ?? bg.height / 2, scale, rotation: 0, anchor: "centre" });
  state.selected = state.objects.length - 1;
  renderObjects();
  updateRun();
}

// where the sticker's centre lands (as compositor.paste.resolve computes it)
function centreOf(o) {
  if (o.anchor !== "bottom") return [o.x, o.y];
  const a = o.rotation * Math.PI / 180, half = o.scale * o.sticker.height / 2 - 0.5;
  return [o.x - half * Math.sin(a), o.y - half * Math.cos(a)];
}

function renderObjects() {
  const layer = $("objects-layer");
  layer.replaceChildren();
  const f = viewScale();
  state.objects.forEach((o, i) => {
    const [cx, cy] = centreOf(o);
    const w = o.sticker.width * o.scale * f, h = o.sticker.height * o.scale * f;
    const node = el("div", { class: `obj${i === state.selected ? " selected" : ""}`, "data-index": String(i) },
      el("img", { src: o.sticker.preview, alt: `object ${i + 1}` }),
      el("div", { class: "handle scale", title: "drag to scale" }),
      el("div", { class: "handle rotate", title: "drag to rotate" }));
    // pixel (w-1)/2 of the sticker is its centre in paste; half a screen pixel is invisible here
    Object.assign(node.style, { left: `${(cx + 0.5) * f - w / 2}px`, top: `${(cy + 0.5) * f - h / 2}px`,
      width: `${w}px`, height: `${h}px`, transform: `rotate(${-o.rotation}deg)`, zIndex: String(i + 1) });
    layer.append(node);
    if (o.anchor === "bottom") {
      const dot = el("div", { class: "anchor-dot", title: "the object's feet" });  // CSSOM: the CSP allows no style attributes
      Object.assign(dot.style, { left: `${(o.x + 0.5) * f}px`, top: `${(o.y + 0.5) * f}px`, zIndex: String(state.objects.length + 1) });
      layer.append(dot);
    }
  });
  renderObjectTable();
}

function renderObjectTable() {
  const body = document.querySelector("#objects tbody");
  body.replaceChildren();
  const bg = state.background;
  state.objects.forEach((o, i) => {
    const hpx = o.sticker.height * o.scale;
    const anchor = el("select", { onchange: (e) => { setAnchor(o, e.target.value); renderObjects(); } },
      el("option", { value: "centre", text: "centre" }), el("option", { value: "bottom", text: "bottom (feet)" }));
    anchor.value = o.anchor;
    body.append(el("tr", { class: i === state.selected ? "selected" : "", onclick: () => { state.selected = i; renderObjects(); } },
      el("td", { text: String(i + 1) }),
      el("td", { class: "name", text: o.sticker.label, title: o.sticker.label }),
      el("td", {}, anchor),
      el("td", { text: `${Math.round(o.x)}, ${Math.round(o.y)}` }),
      el("td", { class: "size", text: `${Math.round(hpx)} px tall = ${pct(hpx / bg.height)} of the background (scale ${o.scale.toFixed(3)})` }),
      el("td", { text: `${o.rotation.toFixed(0)}°` }),
      el("td", {},
        // the arrow shows where the row goes: down the table is forward (later rows are drawn in front)
        el("button", { text: "↑", title: "send backward", onclick: (e) => { e.stopPropagation(); move(i, -1); } }),
        el("button", { text: "↓", title: "bring forward", onclick: (e) => { e.stopPropagation(); move(i, 1); } }),
        el("button", { text: "✕", title: "remove", onclick: (e) => { e.stopPropagation(); state.objects.splice(i, 1); state.selected = -1; renderObjects(); updateRun(); } }))));
  });
}

function setAnchor(o, anchor) {  // keep the object where it is on screen while its anchor changes
  const [cx, cy] = centreOf(o);
  o.anchor = anchor;
  if (anchor === "bottom") {
    const a = o.rotation * Math.PI / 180, half = o.scale * o.sticker.height / 2 - 0.5;
    o.x = cx + half * Math.sin(a); o.y = cy + half * Math.cos(a);
  } else { o.x = cx; o.y = cy; }
}

function move(i, by) {
  const j = i + by;
  if (j < 0 || j >= state.objects.length) return;
  [state.objects[i], state.objects[j]] = [state.objects[j], state.objects[i]];
  state.selected = j;
  renderObjects();
}

function stageInteractions() {
  const stage = $("stage");
  let drag = null;
  stage.addEventListener("pointerdown", (e) => {
    const node = e.target.closest(".obj");
    if (!node) { state.selected = -1; renderObjects(); return; }
    const i = Number(node.dataset.index), o = state.objects[i];
    state.selected = i;
    const f = viewScale(), r = $("bg-img").getBoundingClientRect();
    const [cx, cy] = centreOf(o);
    const kind = e.target.classList.contains("scale") ? "scale" : e.target.classList.contains("rotate") ? "rotate" : "move";
    drag = { i, kind, x0: e.clientX, y0: e.clientY, ox: o.x, oy: o.y, scale: o.scale, rotation: o.rotation,
      cxs: r.left + (cx + 0.5) * f, cys: r.top + (cy + 0.5) * f };
    drag.d0 = Math.hypot(e.clientX - drag.cxs, e.clientY - drag.cys) || 1;
    stage.setPointerCapture(e.pointerId);
    e.preventDefault();
    renderObjects();
  });
  stage.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const o = state.objects[drag.i], f = viewScale();
    if (drag.kind === "move") {
      o.x = drag.ox + (e.clientX - drag.x0) / f;
      o.y = drag.oy + (e.clientY - drag.y0) / f;
    } else if (drag.kind === "scale") {
      o.scale = Math.max(0.01, drag.scale * Math.hypot(e.clientX - drag.cxs, e.clientY - drag.cys) / drag.d0);
    } else {
      const angle = Math.atan2(drag.cys - e.clientY, e.clientX - drag.cxs) * 180 / Math.PI - 90;
      o.rotation = Math.round(angle);
    }
    renderObjects();
  });
  const end = () => { if (drag) { drag = null; renderObjects(); } };
  stage.addEventListener("pointerup", end);
  stage.addEventListener("pointercancel", end);
  stage.addEventListener("wheel", (e) => {
    const node = e.target.closest(".obj");
    if (!node) return;
    e.preventDefault();
    const o = state.objects[Number(node.dataset.index)];
    o.scale = Math.max(0.01, o.scale * (e.deltaY < 0 ? 1.05 : 1 / 1.05));
    renderObjects();
  }, { passive: false });
  stage.addEventListener("dragover", (e) => e.preventDefault());
  stage.addEventListener("drop", (e) => {
    const which = e.dataTransfer.getData("text/x-sticker");
    if (which === "" || !state.background) return;
    e.preventDefault();
    e.stopPropagation();
    const r = $("bg-img").getBoundingClientRect(), f = viewScale();
    addObject(Number(which), (e.clientX - r.left) / f, (e.clientY - r.top) / f);
  });
  window.addEventListener("resize", renderObjects);
}

// ------------------------------------------------------------------ run
function chosenBackends() {
  return [...document.querySelectorAll("#backends input[type=checkbox][data-backend]:not([data-setting])")]
    .filter((c) => c.checked).map((c) => c.value);
}
function updateRun() { $("run").disabled = !(state.background && state.objects.length); }

async function run() {
  showError("");
  const backends = chosenBackends();
  if (!backends.length) { showError("choose at least one harmonizer."); return; }
  $("run").disabled = true;
  $("run-status").textContent = "pasting…";
  $("results").replaceChildren();
  $("downloads").replaceChildren();
  $("command-box").hidden = true;
  state.jobs = [];  // the command shows this run's results only
  try {
    // hundredths of a pixel and four decimals of scale: the command line stays short, and the
    // server and the command use these very numbers
    const round = (v, d) => Math.round(v * 10 ** d) / 10 ** d;
    const placements = state.objects.map((o) => ({ sticker: o.sticker.id, x: round(o.x, 2), y: round(o.y, 2),
      scale: round(o.scale, 4), rotation: round(o.rotation, 2), anchor: o.anchor }));
    state.paste = await api("/api/paste", { method: "POST", body: form({ background_id: state.background.id,
      placements: JSON.stringify(placements) }) });
    const p = state.paste;
    $("downloads").append("Download: ",
      el("a", { href: p.composite.url, download: p.composite.label, text: "composite" }),
      el("a", { href: p.mask.url, download: p.mask.label, text: "mask" }),
      el("a", { href: p.sidecar.url, download: p.sidecar.label, text: "composite sidecar (JSON)" }),
      // each sticker under the name the command gives it (two stickers of one photo share a label)
      ...p.stickers.map((s, i) => el("a", { href: s.url, download: s.label, text: `sticker ${i + 1}` })));
    $("run-status").textContent = `pasted in ${seconds(p.seconds)}; harmonizing…`;
    const states = await Promise.all(backends.map((b) => harmonize(b)));
    const unfinished = backends.map((b, i) => `${b} ${states[i]}`).filter((_, i) => states[i] !== "done");
    $("run-status").textContent = unfinished.length ? `done (${unfinished.join(", ")})` : "done";
  } catch (err) { showError(err.message); $("run-status").textContent = ""; }
  updateRun();
}

async function harmonize(backend) {
  const p = state.paste;
  const card = el("div", { class: "result", "data-backend": backend });
  const bar = el("progress", { max: "1", value: "0" });
  const status = el("span", { class: "status", text: "queued" });
  const cancel = el("button", { text: "cancel" });
  card.append(el("h3", {}, el("span", { text: backend }), el("span", { class: "time", text: "" })), bar,
    el("div", { class: "row" }, status, cancel));
  $("results").append(card);
  const settings = chosenSettings(backend);
  const finishing = state.plugins.finish ? chosenSettings("finish") : {};
  let job;
  try {
    job = await api("/api/harmonize", { method: "POST", body: form({ composite_id: p.composite.id,
      mask_id: p.mask.id, backend, settings: JSON.stringify(settings), wait: "false",
      finish: Object.keys(finishing).length ? JSON.stringify(finishing) : null }) });
    cancel.onclick = () => api(`/api/jobs/${job.id}`, { method: "DELETE" }).catch((e) => showError(e.message));
    while (job.state === "queued" || job.state === "running") {
      await new Promise((r) => setTimeout(r, 250));
      job = await api(`/api/jobs/${job.id}`);
      if (job.total) { bar.max = job.total; bar.value = job.step; }
      // before its first step a backend may be loading its model (its first run in this server): say so
      status.textContent = job.state === "running"
        ? (job.total ? `step ${job.step} of ${job.total}` : "working (a backend's first run also loads its model)")
        : job.state;
    }
  } catch (err) {  // refused (a setting out of range), or the server gone: the card says why instead of waiting
    card.replaceChildren(el("h3", { text: backend }), el("p", { class: "error", text: err.message }));
    throw err;
  }
  card.replaceChildren();
  if (job.state !== "done") {
    card.append(el("h3", { text: backend }), el("p", { class: "error", text: job.error || job.state }));
    return job.state;  // cancelled or failed: the run's status says so
  }
  showResult(card, backend, job.result);
  return job.state;
}

function showResult(card, backend, r) {
  const p = state.paste;
  const before = p.composite, after = r.result;
  const zoom = el("select", { class: "zoom" }, ...[1, 2, 4, 8].map((z) => el("option", { value: String(z), text: `${z}×` })));
  const inner = el("div", { class: "inner" });
  const base = el("img", { src: before.preview, alt: "before" });
  const topImg = el("img", { src: after.preview, alt: `after (${backend})` });
  const top = el("div", { class: "after" }, topImg);
  inner.append(base, top, el("div", { class: "labels" }, el("span", { text: `after: ${backend}` }), el("span", { text: "before" })));
  const frame = el("div", { class: "compare" }, inner);
  // the divide starts at the objects' centre (the middle of the union of their boxes), so the
  // comparison shows on them at once
  const boxes = p.objects.map((o) => o.box);
  const x0 = Math.min(...boxes.map((b) => b[0])), x1 = Math.max(...boxes.map((b) => b[0] + b[2]));
  const start = boxes.length ? Math.min(100, Math.max(0, 100 * (x0 + x1) / 2 / before.width)) : 50;
  const slider = el("input", { type: "range", min: "0", max: "100", step: "0.1", value: start.toFixed(1), "aria-label": "before/after" });
  const fit = () => { topImg.style.height = `${base.getBoundingClientRect().height}px`; topImg.style.width = `${base.getBoundingClientRect().width}px`; };
  slider.oninput = () => { top.style.width = `${slider.value}%`; };
  slider.oninput();
  zoom.onchange = () => {  // past 1x, the full-size images, so the zoom shows real pixels
    const full = Number(zoom.value) > 1;
    base.src = full ? before.url : before.preview;
    topImg.src = full ? after.url : after.preview;
    inner.style.width = `${100 * Number(zoom.value)}%`;
    fit();
  };
  base.onload = fit;
  const m = r.metrics || {};
  card.append(
    el("h3", {}, el("span", { text: backend }), el("span", { class: "time", text: seconds(r.seconds) })),
    frame,
    el("div", { class: "slider-row" }, el("span", { text: "after" }), slider, el("span", { text: "before" })),
    el("p", { class: "numbers", text: `colour gap ${num(m.color_gap)} ΔE · contrast gap ${num(m.contrast_gap)} · seam ratio ${num(m.seam_ratio, 2)} (about 1 = no visible seam)` }),
    el("div", { class: "links" }, "Download: ",
      el("a", { href: after.url, download: after.label, text: "result" }),
      el("a", { href: r.sidecar.url, download: r.sidecar.label, text: "result sidecar (JSON)" }),
      el("label", { class: "zoom-label", text: "zoom " }, zoom)));
  state.jobs.push({ backend, result: r });
  showCommand();
}

function showCommand() {
  const p = state.paste;
  const lines = [`# the sticker files are the ones this page offers for download (they were cut by: ${state.stickers[0] ? state.stickers[0].command : "compositor cut"})`, p.command];
  for (const j of state.jobs) lines.push(j.result.command);
  $("command").textContent = lines.join(" && \\\n  ").replace(" && \\\n  ", "\n");
  $("command-box").hidden = false;
}

async function copyCommand() {
  const text = $("command").textContent;
  try { await navigator.clipboard.writeText(text); $("copy-status").textContent = "copied"; }
  catch { $("copy-status").textContent = "select the text below and copy it"; }
}

// ------------------------------------------------------------------ start
window.addEventListener("DOMContentLoaded", async () => {
  // the pickers listen at once: a file chosen while the plugins load (a busy server) is opened
  // when they have loaded, instead of being lost
  const plugins = loadPlugins().catch((err) => showError(err.message));
  const photo = async (file) => { await plugins; openPhoto(file); };
  const background = async (file) => { await plugins; openBackground(file); };
  $("photo-file").addEventListener("change", (e) => e.target.files[0] && photo(e.target.files[0]));
  $("bg-file").addEventListener("change", (e) => e.target.files[0] && background(e.target.files[0]));
  takeFiles($("photo-drop"), photo);
  takeFiles($("stage"), background);
  document.addEventListener("paste", (e) => {
    const item = [...(e.clipboardData ? e.clipboardData.items : [])].find((i) => i.type.startsWith("image/"));
    if (!item) return;
    const file = item.getAsFile();
    if (!state.photo) photo(file); else background(file);
  });
  $("recut").addEventListener("click", cut);
  $("run").addEventListener("click", run);
  $("copy-command").addEventListener("click", copyCommand);
  photoBoxDrawing();
  stageInteractions();
});
