// pixseek web page: plain JavaScript over the JSON API, no build step.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const PAGE = 60;   // items per "browse" page
const K = 24;      // hits per search

const el = {
  q: $("#q"), form: $("#search-form"), file: $("#file"), info: $("#library-info"),
  drop: $("#dropzone"), overlay: $("#drop-overlay"), filters: $("#filters"),
  tag: $("#f-tag"), folder: $("#f-folder"), since: $("#f-since"), until: $("#f-until"),
  alert: $("#alert"), query: $("#query"), queryImg: $("#query-img"), queryTitle: $("#query-title"),
  queryMeta: $("#query-meta"), queryClear: $("#query-clear"), status: $("#status"),
  results: $("#results"), more: $("#load-more"), tpl: $("#card-tpl"),
};

const state = { mode: "browse", file: null, itemId: null, text: "", offset: 0, info: null, seq: 0, abort: null };

class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status; this.code = e.code || "error"; this.details = e.details;
  }
}

async function api(path, opts = {}) {
  let res;
  try {
    res = await fetch(path, { headers: { Accept: "application/json" }, ...opts });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { error: { code: "offline", message: "Cannot reach the pixseek server. Is it still running?" } });
  }
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

// ---- messages ------------------------------------------------------------------------------
const FRIENDLY = {
  "not-an-image": "isn't an image we can read.",
  "corrupt-image": "looks damaged or cut short, so it can't be decoded.",
  "empty-file": "is empty.",
  "too-large": "has too many pixels for this server.",
  "payload-too-large": "is larger than this server accepts.",
  "unsupported-media-type": "isn't an image file.",
};

function showError(err, name) {
  if (err && err.name === "AbortError") return;
  const friendly = FRIENDLY[err.code];
  el.alert.replaceChildren();
  const strong = document.createElement("strong");
  strong.textContent = friendly && name ? `“${name}” ${friendly}` : (friendly ? `That file ${friendly}` : "Something went wrong.");
  const detail = document.createElement("span");
  detail.textContent = err.message || String(err);
  el.alert.append(strong, detail);
  el.alert.hidden = false;
  el.status.textContent = "";
}

function clearError() { el.alert.hidden = true; el.alert.replaceChildren(); }

function fmtBytes(n) {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`;
}

// ---- filters -------------------------------------------------------------------------------
function filterParams(extra = {}) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  for (const input of [el.tag, el.folder, el.since, el.until]) if (input.value) p.set(input.name, input.value);
  return p;
}

function filtersActive() { return [el.tag, el.folder, el.since, el.until].some(i => i.value); }

async function loadFacets() {
  const f = await api("/api/facets");
  const keep = { tag: el.tag.value, folder: el.folder.value };
  el.tag.replaceChildren(new Option("any", ""));
  for (const t of f.tags) el.tag.append(new Option(`${t.value} (${t.count})`, t.value));
  el.folder.replaceChildren(new Option("any", ""));
  for (const d of f.folders) el.folder.append(new Option(`${d.value || "(top level)"} (${d.count})`, d.value || "."));
  el.folder.closest("label").hidden = f.folders.length < 2;
  el.tag.closest("label").hidden = f.tags.length === 0;
  el.tag.value = keep.tag; el.folder.value = keep.folder;
  const chips = $("#chips");
  chips.querySelectorAll(".chip").forEach(c => c.remove());
  for (const t of f.tags.slice(0, 10)) {
    const b = document.createElement("button");
    b.type = "button"; b.className = "chip";
    b.textContent = t.value;
    const c = document.createElement("span"); c.className = "count"; c.textContent = t.count;
    c.setAttribute("aria-label", `${t.count} images`);
    b.append(c);
    b.addEventListener("click", () => { location.hash = `#/q/${encodeURIComponent(t.value)}`; });
    chips.append(b);
  }
  chips.hidden = f.tags.length === 0;
  if (f.oldest) { el.since.min = el.until.min = f.oldest; }
  if (f.newest) { el.since.max = el.until.max = f.newest; }
}

// ---- rendering -----------------------------------------------------------------------------
function card(item, scored) {
  const li = el.tpl.content.firstElementChild.cloneNode(true);
  const btn = $(".hit", li), img = $("img", li);
  li.dataset.id = item.id;
  if (scored && item.rank === 1) li.classList.add("rank-1");
  img.classList.add("loading");
  img.addEventListener("load", () => img.classList.remove("loading"), { once: true });
  img.addEventListener("error", () => { img.classList.remove("loading"); img.alt = `${item.name} (no preview)`; }, { once: true });
  img.src = item.thumb_url;
  img.alt = item.name;
  img.width = 320; img.height = 320;
  $(".name", li).textContent = item.name;
  $(".name", li).title = item.path;
  const label = item.labels && item.labels[0];
  $(".label", li).textContent = [label ? label.label : "", item.folder].filter(Boolean).join(" · ");
  if (scored) {
    const pct = Math.max(0, Math.min(1, item.score));
    $(".bar > span", li).style.width = `${(pct * 100).toFixed(1)}%`;
    $(".num", li).textContent = item.score.toFixed(3);
    btn.setAttribute("aria-label", `${item.name}, score ${item.score.toFixed(3)}. Show more like this`);
  } else {
    $(".score", li).hidden = true;
    btn.setAttribute("aria-label", `${item.name}. Show more like this`);
  }
  btn.addEventListener("click", () => { location.hash = `#/similar/${item.id}`; });
  if (scored && item.copies && item.copies.length) {
    // near-duplicates stacked under this hit: "+N copies", expandable, each one a "more like this" link
    const d = document.createElement("details");
    d.className = "copies";
    const sum = document.createElement("summary");
    const n = item.copies.length;
    sum.textContent = `+${n} ${n === 1 ? "copy" : "copies"}`;
    const ul = document.createElement("ul");
    for (const c of item.copies) {
      const a = document.createElement("a");
      a.href = `#/similar/${c.id}`;
      a.textContent = `${c.path.split("/").pop()} · ${c.score.toFixed(3)}`;
      a.title = c.path;
      const cli = document.createElement("li");
      cli.append(a);
      ul.append(cli);
    }
    d.append(sum, ul);
    li.append(d);
  }
  if (scored && item.weak) li.classList.add("weak");
  if (scored) li.append(markButtons(item));
  const open = $(".open", li);
  open.href = item.image_url;
  // a video frame (name "file @ hh:mm:ss.s"): image_url ends in #t=seconds, the browser plays the video from there
  open.setAttribute("aria-label", item.t_sec != null ? `Play ${item.name}` : `Open ${item.name} full size`);
  return li;
}

// ---- relevance feedback: 'more' / 'less' marks on hits (👍/👎), "Refine" re-runs the search with the marks --------
const marks = { like: new Set(), unlike: new Set() };

function markButtons(item) {
  const box = document.createElement("div");
  box.className = "marks";
  for (const [kind, glyph, label] of [["like", "+ more", "More like this"], ["unlike", "− less", "Less like this"]]) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `mark ${kind}`;
    b.textContent = glyph;
    b.title = label;
    b.setAttribute("aria-label", `${label}: ${item.name}`);
    b.setAttribute("aria-pressed", String(marks[kind].has(item.id)));
    b.addEventListener("click", () => {
      const other = marks[kind === "like" ? "unlike" : "like"];
      if (marks[kind].has(item.id)) marks[kind].delete(item.id); else { marks[kind].add(item.id); other.delete(item.id); }
      for (const x of box.querySelectorAll("button.mark"))
        x.setAttribute("aria-pressed", String(marks[x.classList.contains("like") ? "like" : "unlike"].has(item.id)));
      showRefine();
    });
    box.append(b);
  }
  return box;
}

function markParams() {
  const p = {};
  if (marks.like.size) p.like = [...marks.like].join(",");
  if (marks.unlike.size) p.unlike = [...marks.unlike].join(",");
  return p;
}

function showRefine() {
  let b = document.getElementById("refine");
  if (!b) {
    b = document.createElement("button");
    b.id = "refine";
    b.type = "button";
    b.addEventListener("click", () => {
      const q = new URLSearchParams(markParams()).toString();
      if (state.mode === "item") location.hash = `#/similar/${state.itemId}${q ? "?" + q : ""}`;  // marks kept in the URL: shareable
      else if (state.mode === "text") location.hash = `#/q/${encodeURIComponent(state.text)}${q ? "?" + q : ""}`;
      else rerun();
    });
    el.query.append(b);
  }
  const n = marks.like.size + marks.unlike.size;
  b.hidden = n === 0;
  b.textContent = `Refine: ${marks.like.size} more · ${marks.unlike.size} less`;
}

function render(items, { scored, append = false, emptyText = "Nothing here." } = {}) {
  if (!append) el.results.replaceChildren();
  const frag = document.createDocumentFragment();
  let weakShown = false;
  for (const it of items) {
    if (scored && it.weak && !weakShown) {  // below the model's relevance floor
      const div = document.createElement("li");
      div.className = "divider";
      div.textContent = "Weaker matches";
      frag.append(div);
      weakShown = true;
    }
    frag.append(card(it, scored));
  }
  el.results.append(frag);
  if (!el.results.children.length) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = emptyText;
    el.results.append(li);
  }
}

function showQuery({ title, meta, img }) {
  el.query.hidden = false;
  el.queryTitle.textContent = title;
  el.queryMeta.textContent = meta || "";
  if (img) { el.queryImg.src = img; el.queryImg.hidden = false; el.queryImg.alt = `Query: ${title}`; }
  else { el.queryImg.hidden = true; el.queryImg.removeAttribute("src"); }
}

function begin(statusText, { top = true } = {}) {
  clearError();
  if (top && window.scrollY > 0) window.scrollTo({ top: 0 });
  el.drop.classList.toggle("compact", state.mode !== "browse");
  if (state.abort) state.abort.abort();
  state.abort = new AbortController();
  el.status.textContent = statusText;
  el.results.setAttribute("aria-busy", "true");
  return { seq: ++state.seq, signal: state.abort.signal };
}

function done(run) {
  if (run.seq === state.seq) el.results.removeAttribute("aria-busy");
  return run.seq === state.seq;
}

function summary(res, what) {
  const n = res.hits.length;
  const f = filtersActive() ? " (filtered)" : "";
  const plural = what.endsWith("ch") || what.endsWith("s") ? `${what}es` : `${what}s`;
  return `${n} ${n === 1 ? what : plural}${f} in ${Math.round(res.took_ms)} ms · ${res.index_size} images indexed`;
}

// ---- the four ways to look ------------------------------------------------------------------
async function browse(append = false) {
  state.mode = "browse";
  if (!append) state.offset = 0;
  const run = begin(append ? "Loading more…" : "Loading your library…", { top: !append });
  el.query.hidden = true;
  try {
    const p = filterParams({ offset: state.offset, limit: PAGE });
    const res = await api(`/api/items?${p}`, { signal: run.signal });
    if (!done(run)) return;
    render(res.items, { scored: false, append, emptyText: filtersActive() ? "No images match these filters." : "The library is empty: index a folder with `pixseek index`." });
    state.offset += res.items.length;
    el.more.hidden = state.offset >= res.total;
    el.status.textContent = `${res.total} image${res.total === 1 ? "" : "s"}${filtersActive() ? " match the filters" : " in the library"}. Drop one of yours to find similar pictures.`;
  } catch (err) { if (done(run)) showError(err); }
}

async function searchFile(file) {
  if (!file) return;
  showView("search");
  const name = file.name || "pasted image";
  if (location.hash) history.pushState(null, "", location.pathname + location.search);
  if (state.file !== file) { marks.like.clear(); marks.unlike.clear(); }
  state.mode = "image"; state.file = file;
  el.more.hidden = true;
  const preview = URL.createObjectURL(file);
  showQuery({ title: name, meta: `${fmtBytes(file.size)} · your image`, img: preview });
  el.queryImg.onerror = () => { el.queryImg.hidden = true; };
  const max = state.info && state.info.max_upload_bytes;
  if (max && file.size > max) {
    showError(new ApiError(413, { error: { code: "payload-too-large", message: `${fmtBytes(file.size)}; the limit is ${fmtBytes(max)}.` } }), name);
    render([], { scored: true, emptyText: "No search: see the message above." });
    return;
  }
  const run = begin(`Searching for images like “${name}”…`);
  try {
    const body = new FormData();
    body.append("file", file, name);
    for (const [key, val] of Object.entries(markParams())) body.append(key, val);
    const res = await api(`/api/search/image?${filterParams({ k: K })}`, { method: "POST", body, signal: run.signal });
    if (!done(run)) return;
    el.queryMeta.textContent = `${res.query.width}×${res.query.height} · ${fmtBytes(file.size)} · your image`;
    render(res.hits, { scored: true, emptyText: "No similar images (check the filters)." });
    el.status.textContent = summary(res, "similar image");
  } catch (err) {
    if (!done(run)) return;
    showError(err, name);
    render([], { scored: true, emptyText: "No search: see the message above." });
  }
}

async function searchItem(id, given = {}) {
  showView("search");
  if (state.itemId !== id || state.mode !== "item") { marks.like.clear(); marks.unlike.clear(); }
  for (const key of ["like", "unlike"])
    for (const v of (given[key] || "").split(",").filter(Boolean)) marks[key].add(Number(v));
  state.mode = "item"; state.itemId = id;
  el.more.hidden = true;
  const run = begin("Finding more like this…");
  try {
    const res = await api(`/api/items/${id}/similar?${filterParams({ k: K, ...markParams() })}`, { signal: run.signal });
    if (!done(run)) return;
    const q = res.query;
    showQuery({ title: `More like ${q.name}`, meta: q.width ? `${q.width}×${q.height} · from your library` : "from your library",
                img: `/api/items/${id}/thumb` });
    render(res.hits, { scored: true, emptyText: "No other images match (check the filters)." });
    el.status.textContent = summary(res, "similar image");
    focusFirstResult();
  } catch (err) { if (done(run)) { showError(err); render([], { scored: true }); } }
}

async function searchText(text, given = {}) {
  showView("search");
  if (state.text !== text || state.mode !== "text") { marks.like.clear(); marks.unlike.clear(); }
  for (const key of ["like", "unlike"])
    for (const v of (given[key] || "").split(",").filter(Boolean)) marks[key].add(Number(v));
  state.mode = "text"; state.text = text;
  el.q.value = text;
  el.more.hidden = true;
  const run = begin(`Searching for “${text}”…`);
  try {
    const res = await api(`/api/search/text?${filterParams({ q: text, k: K, ...markParams() })}`, { signal: run.signal });
    if (!done(run)) return;
    const labels = res.query.matched_labels.map(l => l.label);
    const how = res.query.kind === "tag"
      ? (labels.length ? `tags: ${labels.slice(0, 5).join(", ")}${labels.length > 5 ? "…" : ""}` : "no tag has this name")
      : `text search${labels.length ? `: ${labels.slice(0, 5).join(", ")}` : ""}`;
    const notes = (res.query.warnings || []).join(" · ");  // a word not understood, no strong match
    showQuery({ title: `“${text}”`, meta: notes ? `${how} — ${notes}` : how });
    render(res.hits, { scored: true, emptyText: res.query.kind === "tag" && !labels.length
      ? `No tag called “${text}”. Try a simpler word (cat, car, coffee…) or pick a tag from the filter.`
      : "No images match." });
    el.status.textContent = summary(res, "match");
  } catch (err) { if (done(run)) { showError(err); render([], { scored: true }); } }
}

function rerun() {
  if (state.mode === "image" && state.file) return searchFile(state.file);
  if (state.mode === "item") return searchItem(state.itemId);
  if (state.mode === "text") return searchText(state.text);
  return browse();
}

function route() {
  const h = decodeURIComponent(location.hash.slice(1));
  let m;
  if ((m = h.match(/^\/similar\/(\d+)(?:\?(.*))?$/))) return searchItem(Number(m[1]), Object.fromEntries(new URLSearchParams(m[2] || "")));
  if ((m = h.match(/^\/q\/([^?]+)(?:\?(.*))?$/))) return searchText(m[1], Object.fromEntries(new URLSearchParams(m[2] || "")));
  if (state.mode === "image" && state.file && !h) return undefined; // an upload has no URL
  return browse();
}

function focusFirstResult() {
  const first = $(".hit", el.results);
  if (first && document.activeElement && document.activeElement.closest(".card")) first.focus();
}

// ---- input: pick, drop, paste, keyboard ------------------------------------------------------
function imageFrom(dataTransfer) {
  if (!dataTransfer) return null;
  for (const f of dataTransfer.files || []) return f;
  for (const item of dataTransfer.items || []) if (item.kind === "file") return item.getAsFile();
  return null;
}

function itemFromDraggedUrl(dataTransfer) {
  const url = dataTransfer && (dataTransfer.getData("text/uri-list") || dataTransfer.getData("text/plain"));
  if (!url) return null;
  try {
    const u = new URL(url, location.href);
    const m = u.origin === location.origin && u.pathname.match(/^\/api\/items\/(\d+)\//);
    return m ? Number(m[1]) : (u.protocol.startsWith("http") ? "remote" : null);
  } catch { return null; }
}

el.form.addEventListener("submit", ev => {
  ev.preventDefault();
  const text = el.q.value.trim();
  if (text) location.hash = `#/q/${encodeURIComponent(text)}`;
  else if (location.hash) location.hash = "";
  else browse();
});
el.file.addEventListener("change", () => { if (el.file.files[0]) searchFile(el.file.files[0]); el.file.value = ""; });
el.drop.addEventListener("click", () => el.file.click());
el.drop.addEventListener("keydown", ev => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); el.file.click(); } });
el.more.addEventListener("click", () => browse(true));
el.queryClear.addEventListener("click", () => {
  state.mode = "browse"; state.file = null; el.q.value = "";
  if (location.hash) location.hash = ""; else browse();
});
el.filters.addEventListener("change", () => rerun());
el.filters.addEventListener("reset", () => setTimeout(rerun, 0));
window.addEventListener("hashchange", route);
window.addEventListener("popstate", () => { if (!location.hash && state.mode !== "browse") { state.file = null; browse(); } });

let dragDepth = 0;
window.addEventListener("dragenter", ev => {
  if (!currentViewIs("search")) return;
  ev.preventDefault(); dragDepth++; el.overlay.hidden = false; el.drop.classList.add("over");
});
window.addEventListener("dragleave", () => { if (--dragDepth <= 0) { dragDepth = 0; el.overlay.hidden = true; el.drop.classList.remove("over"); } });
window.addEventListener("dragover", ev => ev.preventDefault());
window.addEventListener("drop", ev => {
  ev.preventDefault(); dragDepth = 0; el.overlay.hidden = true; el.drop.classList.remove("over");
  if (!currentViewIs("search")) return;
  const file = imageFrom(ev.dataTransfer);
  if (file) return searchFile(file);
  const item = itemFromDraggedUrl(ev.dataTransfer);
  if (typeof item === "number") { location.hash = `#/similar/${item}`; return; }
  showError(new ApiError(400, { error: { code: "no-file", message: item === "remote"
    ? "That was a link, not a file. pixseek never downloads from the web: save the image, then drop the file."
    : "Drop an image file (JPEG, PNG, WebP, GIF, HEIC…)." } }));
});
window.addEventListener("paste", ev => {
  if (ev.target === el.q && !imageFrom(ev.clipboardData)) return; // ordinary text paste into the box
  const file = imageFrom(ev.clipboardData);
  if (file) { ev.preventDefault(); searchFile(file); }
});

document.addEventListener("keydown", ev => {
  const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
  if (ev.key === "/" && !typing) { ev.preventDefault(); el.q.focus(); el.q.select(); return; }
  if (ev.key === "Escape" && document.activeElement === el.q) { el.q.value = ""; return; }
  const hit = document.activeElement.closest && document.activeElement.closest("#results .card");
  if (!hit || !["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"].includes(ev.key)) return;
  const cards = [...el.results.querySelectorAll(".card")];
  const cols = getComputedStyle(el.results).gridTemplateColumns.split(" ").length;
  const i = cards.indexOf(hit);
  const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -cols, ArrowDown: cols, Home: -i, End: cards.length - 1 - i }[ev.key];
  const next = cards[Math.max(0, Math.min(cards.length - 1, i + step))];
  if (next) { ev.preventDefault(); $(".hit", next).focus(); }
});

// ---- views: search, compare, duplicates ------------------------------------------------------
function currentViewIs(name) { return !$(`#view-${name}`).hidden; }

function showView(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.setAttribute("aria-pressed", String(tab.dataset.view === name));
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== `view-${name}`;
  if (name === "duplicates") loadDuplicates();
}
for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showView(tab.dataset.view));

const compareFiles = { a: null, b: null };
for (const slot of document.querySelectorAll(".slot")) {
  const input = $("input", slot), img = $("img", slot), side = slot.dataset.side;
  const take = file => {
    if (!file) return;
    compareFiles[side] = file;
    img.src = URL.createObjectURL(file); img.hidden = false; img.alt = file.name || "pasted image";
    img.onerror = () => { img.hidden = true; $("span", slot).textContent = file.name; };
    runCompare();
  };
  slot.addEventListener("click", () => input.click());
  slot.addEventListener("keydown", ev => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); input.click(); } });
  input.addEventListener("change", () => { take(input.files[0]); input.value = ""; });
  slot.addEventListener("dragover", ev => { ev.preventDefault(); slot.classList.add("over"); });
  slot.addEventListener("dragleave", () => slot.classList.remove("over"));
  slot.addEventListener("drop", ev => { ev.preventDefault(); ev.stopPropagation(); slot.classList.remove("over"); take(imageFrom(ev.dataTransfer)); });
}

async function runCompare() {
  const out = $("#compare-result");
  if (!compareFiles.a || !compareFiles.b) { out.textContent = "Now pick the other image."; return; }
  out.textContent = "Comparing…";
  const body = new FormData();
  body.append("a", compareFiles.a, compareFiles.a.name || "a.png");
  body.append("b", compareFiles.b, compareFiles.b.name || "b.png");
  try {
    const r = await api("/api/compare", { method: "POST", body });
    out.replaceChildren();
    const big = document.createElement("div"); big.className = "big"; big.textContent = r.similarity.toFixed(3);
    const words = document.createElement("div");
    const verdict = r.verdict || (r.similarity > 0.9 ? "very alike" : r.similarity > 0.7 ? "alike" : r.similarity > 0.5 ? "somewhat alike" : "different");
    words.textContent = `${verdict} — ${r.a.name} (${r.a.width}×${r.a.height}) vs ${r.b.name} (${r.b.width}×${r.b.height})`;
    const how = document.createElement("div"); how.className = "muted small"; how.textContent = `method: ${r.method}`;
    out.append(big, words, how);
    out.scrollIntoView({ block: "nearest" });
  } catch (err) {
    out.replaceChildren();
    const name = err.details && err.details.file;
    const p = document.createElement("p"); p.className = "alert"; p.setAttribute("role", "alert");
    p.textContent = `${name ? `“${name}” ` + (FRIENDLY[err.code] || "") + " " : ""}${err.message}`;
    out.append(p);
  }
}

async function loadDuplicates() {
  const status = $("#dup-status"), box = $("#dup-groups");
  status.textContent = "Looking for near-duplicates…";
  try {
    const res = await api("/api/duplicates");
    box.replaceChildren();
    for (const g of res.groups) {
      const section = document.createElement("section"); section.className = "dup-group";
      const h = document.createElement("h2"); h.className = "small muted";
      h.textContent = `${g.items.length} copies${g.tier ? ` · ${g.tier}` : ""}${g.score != null ? ` · similarity ${g.score.toFixed(3)}` : ""}`;
      const ol = document.createElement("ol"); ol.className = "grid";
      for (const it of g.items) {
        const c = card(it, false);
        $(".label", c).textContent = [it.width ? `${it.width}×${it.height}` : "", fmtBytes(it.size)].filter(Boolean).join(" · ");
        if (it.id === g.keeper) { c.classList.add("keeper"); c.querySelector(".name").textContent = `keep: ${it.name}`; }
        ol.append(c);
      }
      section.append(h, ol);
      if (g.keeper != null && state.info && !state.info.read_only) {
        const b = document.createElement("button");
        b.type = "button"; b.className = "move";
        b.textContent = `Move the other ${g.items.length - 1} out of the library`;
        b.addEventListener("click", async () => {
          const key = sessionStorage.getItem("pixseek-key") || prompt("API key (X-API-Key) to move files:");
          if (!key) return;
          sessionStorage.setItem("pixseek-key", key);
          try {
            const r = await api("/api/duplicates/move", { method: "POST", headers: { "Content-Type": "application/json", "X-API-Key": key },
              body: JSON.stringify({ keep: g.keeper, move: g.items.filter(i => i.id !== g.keeper).map(i => i.id) }) });
            status.textContent = `Moved ${r.moved.length} file(s) to ${r.moved.length ? r.moved[0].to.replace(/\/[^/]*$/, "") : ""}.`;
            section.remove();
          } catch (err) { sessionStorage.removeItem("pixseek-key"); status.textContent = err.message; }
        });
        section.append(b);
      }
      box.append(section);
    }
    status.textContent = res.groups.length ? `${res.groups.length} group(s) of near-duplicates.` : "No near-duplicates found.";
  } catch (err) { status.textContent = err.message; }
}

// ---- start -----------------------------------------------------------------------------------
async function start() {
  try {
    const info = await api("/api/info");
    state.info = info;
    el.info.textContent = `${info.files.toLocaleString()} images · ${info.model_id.split("/")[0]}${info.read_only ? " · read-only" : ""}`;
    $('.tab[data-view="duplicates"]').hidden = !info.features.duplicates;
    if (info.features.text_search === "tags") {
      el.q.placeholder = window.innerWidth < 600 ? "Tag: cat, espresso…" : "Search by tag — e.g. cat, espresso, coin, rocket";
    }
  } catch (err) { showError(err); }
  loadFacets().catch(() => {});
  route();
}
start();
