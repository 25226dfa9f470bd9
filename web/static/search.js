// The search page: text, images and photos in one query, filters, sort, infinite grid,
// like/dislike refinement, and a detail dialog. The query lives in the address (not dropped images).
import {
  api,
  errorText,
  every,
  formatCount,
  formatDate,
  formatDuration,
  h,
  icon,
  isAdmin,
  isTyping,
  photoLabel,
  photoMetadata,
  plural,
  previewImage,
  showError,
  thumbnailUrl,
  toast,
} from "./common.js";
import { filterValues, monthName } from "./filter-values.js";

const PAGE_SIZE = 48;
const SIMILAR_COUNT = 12;
const MAX_IMAGES = 8;
const SHRINK_ABOVE_BYTES = 3_000_000; // big camera files are scaled down before they are sent
const SHRINK_TO_SIDE = 1600;
const TEXT_FILTER_DELAY_MS = 700;
const PHOTO_DRAG_TYPE = "application/x-pixseek-photo";
const DEFAULT_CUTOFF = 0.9;
const FILTER_KEYS = ["after", "before", "camera", "folder", "place", "format", "shape"];

const $ = (id) => document.getElementById(id);
const els = {
  form: $("search-form"),
  query: $("query"),
  imageInput: $("image-input"),
  imagePick: $("image-pick"),
  chips: $("query-images"),
  filters: $("filters"),
  filtersToggle: $("filters-toggle"),
  filtersClear: $("filters-clear"),
  after: $("filter-after"),
  before: $("filter-before"),
  camera: $("filter-camera"),
  folder: $("filter-folder"),
  place: $("filter-place"),
  format: $("filter-format"),
  shape: $("filter-shape"),
  location: $("filter-location"),
  period: $("filter-period"),
  sort: $("sort"),
  sortField: $("sort").closest(".filter"),
  oldest: $("oldest"),
  orderField: $("order-field"),
  collapse: $("collapse"),
  rerank: $("rerank"),
  cutoff: $("cutoff"),
  cutoffValue: $("cutoff-value"),
  cutoffField: $("cutoff-field"),
  cutoffHelp: $("cutoff-help"),
  cutoffNote: $("cutoff-note"),
  cutoffHidden: $("cutoff-hidden"),
  showAll: $("show-all"),
  refine: $("refine"),
  refineSearch: $("refine-search"),
  refineClear: $("refine-clear"),
  refineRated: $("refine-rated"),
  refineSummary: $("refine-summary"),
  refineNote: $("refine-note"),
  info: $("results-info"),
  error: $("search-error"),
  empty: $("results-empty"),
  emptyTitle: $("results-empty-title"),
  emptyText: $("results-empty-text"),
  indexing: $("indexing"),
  indexingText: $("indexing-text"),
  indexingSpinner: $("indexing-spinner"),
  indexingRefresh: $("indexing-refresh"),
  welcome: $("welcome"),
  results: $("results"),
  more: $("results-more"),
  loadMore: $("load-more"),
  detail: $("detail"),
  detailTitle: $("detail-title"),
  detailPosition: $("detail-position"),
  detailFigure: $("detail-figure"),
  detailActions: $("detail-actions"),
  detailMeta: $("detail-meta"),
  detailSimilar: $("detail-similar"),
  detailPrev: $("detail-prev"),
  detailNext: $("detail-next"),
  detailClose: $("detail-close"),
  dropOverlay: $("drop-overlay"),
};

// ---------------------------------------------------------------- state

const state = {
  q: "",
  images: [], // {key, data (base64), url (object URL), name, weight}
  photos: [], // {id, weight, thumb, label}
  filters: {
    after: "", before: "", camera: "", folder: "", place: "", format: "", shape: "", location: false,
  }, // prettier-ignore
  sort: "relevance",
  oldest: false, // no query, only filters: the timeline, oldest photos first
  cutoff: 0.9, // date sorts: photos scoring at least this share of the best (0: every photo)
  collapse: true, // one photo per near-duplicate group, the rest as "+N similar"
  rerank: true, // image queries re-ranked by local features (the API's default too)
  ratings: new Map(), // photo id -> {vote: 1 | -1, thumb, label}
  feedback: null, // {liked, disliked} that the shown results were refined with, or null
};
const imageStore = new Map(); // key -> image term: history entries name their images by key
let imageCounter = 0;

let results = []; // the photos in the grid, in order
const known = new Map(); // photo id -> photo, for every photo on screen (grid and dialog)
let nextOffset = null;
let shownBody = null; // the body (without limit/offset) of the results on screen
let shownKey = null;
let searchSeq = 0;
let searching = null; // AbortController of the first-page search under way
let loadingMore = null; // the promise of the next page under way
let autoLoad = true; // off after a failed page, until the button is pressed
let browsing = false; // the photos on screen are the timeline (no query, only filters)
const monthPhotos = new Map(); // on the timeline: month ("2021-06") -> photos passing the filters

// ---------------------------------------------------------------- the address

function toParams() {
  const params = new URLSearchParams();
  const q = state.q.trim();
  if (q) params.set("q", q);
  for (const photo of state.photos) params.append(photo.weight > 0 ? "like" : "unlike", photo.id);
  for (const key of FILTER_KEYS) if (state.filters[key]) params.set(key, state.filters[key]);
  if (state.filters.location) params.set("location", "1");
  if (state.sort !== "relevance") {
    params.set("sort", state.sort);
    params.set("cutoff", String(state.cutoff));
  }
  if (!state.collapse) params.set("all", "1");
  if (!state.rerank) params.set("rerank", "0");
  if (state.oldest) params.set("order", "oldest");
  if (state.feedback) {
    for (const id of state.feedback.liked) params.append("liked", id);
    for (const id of state.feedback.disliked) params.append("disliked", id);
  }
  return params;
}

function fromParams(params, imageKeys = []) {
  state.q = params.get("q") || "";
  state.photos = [
    ...params.getAll("like").map((id) => photoTerm(id, 1)),
    ...params.getAll("unlike").map((id) => photoTerm(id, -1)),
  ];
  for (const key of FILTER_KEYS) state.filters[key] = params.get(key) || "";
  state.filters.location = ["1", "true", "yes"].includes(params.get("location") || "");
  const sort = params.get("sort");
  state.sort = ["date_desc", "date_asc"].includes(sort) ? sort : "relevance";
  const cutoff = Number.parseFloat(params.get("cutoff") || "");
  state.cutoff = Number.isFinite(cutoff) ? Math.min(1, Math.max(0, cutoff)) : DEFAULT_CUTOFF;
  state.collapse = params.get("all") !== "1";
  state.rerank = params.get("rerank") !== "0";
  state.oldest = params.get("order") === "oldest";
  const liked = params.getAll("liked");
  const disliked = params.getAll("disliked");
  state.ratings = new Map();
  for (const id of liked) state.ratings.set(id, ratingOf(id, 1));
  for (const id of disliked) state.ratings.set(id, ratingOf(id, -1));
  state.feedback = liked.length || disliked.length ? { liked, disliked } : null;
  state.images = imageKeys.map((key) => imageStore.get(key)).filter(Boolean);
}

function photoTerm(id, weight) {
  const photo = known.get(id);
  return {
    id,
    weight,
    thumb: photo ? photo.thumbnail_url : thumbnailUrl(id),
    label: photo ? photo.filename || photoLabel(photo) : "photo",
  };
}

function ratingOf(id, vote) {
  const photo = known.get(id);
  return {
    vote,
    thumb: photo ? photo.thumbnail_url : thumbnailUrl(id),
    label: photo ? photoLabel(photo) : "photo",
  };
}

function updateAddress(mode) {
  if (mode === "none") return;
  const params = toParams().toString();
  const url = location.pathname + (params ? `?${params}` : "");
  const entry = { images: state.images.map((image) => image.key) };
  const same = url === location.pathname + location.search;
  if (mode === "replace" || same) history.replaceState(entry, "", url);
  else history.pushState(entry, "", url);
  const q = state.q.trim();
  document.title = q ? `${q} · pixseek` : "Search · pixseek";
}

// ---------------------------------------------------------------- the query

function readControls() {
  state.q = els.query.value;
  state.filters = {
    after: els.after.value,
    before: els.before.value,
    camera: els.camera.value.trim(),
    folder: els.folder.value.trim(),
    place: els.place.value.trim(),
    format: els.format.value,
    shape: els.shape.value,
    location: els.location.checked,
  };
  state.sort = els.sort.value;
  const cutoff = Number.parseFloat(els.cutoff.value);
  state.cutoff = Number.isFinite(cutoff) ? cutoff : DEFAULT_CUTOFF;
  state.collapse = els.collapse.checked;
  state.rerank = els.rerank.checked;
  state.oldest = els.oldest.checked;
}

function writeControls() {
  els.query.value = state.q;
  els.after.value = state.filters.after;
  els.before.value = state.filters.before;
  els.camera.value = state.filters.camera;
  els.folder.value = state.filters.folder;
  els.place.value = state.filters.place;
  els.format.value = state.filters.format;
  els.shape.value = state.filters.shape;
  els.location.checked = state.filters.location;
  els.sort.value = state.sort;
  els.cutoff.value = String(state.cutoff);
  els.collapse.checked = state.collapse;
  els.rerank.checked = state.rerank;
  els.oldest.checked = state.oldest;
  values.showPeriod();
  showCutoff();
  showFilterCount();
  renderChips();
  renderRefine();
}

function filtersBody() {
  const f = state.filters;
  const filters = {};
  if (f.after) filters.after = f.after;
  if (f.before) filters.before = f.before;
  const cameras = f.camera
    .split(",")
    .map((c) => c.trim())
    .filter(Boolean);
  if (cameras.length) filters.cameras = cameras;
  if (f.folder) filters.folders = [f.folder];
  const places = f.place
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  if (places.length) filters.places = places;
  if (f.format) filters.formats = [f.format];
  if (f.shape) filters.shapes = [f.shape];
  if (f.location) filters.has_location = true;
  return filters;
}

function activeFilterCount() {
  const f = state.filters;
  return FILTER_KEYS.filter((key) => f[key]).length + (f.location ? 1 : 0);
}

/** The SearchBody of the current state, and a short key that tells two apart. */
function searchBody() {
  const body = {};
  const q = state.q.trim();
  if (q) body.query = q;
  if (state.images.length)
    body.images = state.images.map((image) => ({ data: image.data, weight: image.weight }));
  if (state.photos.length)
    body.photos = state.photos.map((photo) => ({ id: photo.id, weight: photo.weight }));
  if (state.feedback) body.feedback = state.feedback;
  const filters = filtersBody();
  if (Object.keys(filters).length) body.filters = filters;
  body.sort = state.sort;
  if (state.sort !== "relevance") body.cutoff = state.cutoff;
  body.collapse = state.collapse;
  body.rerank = state.rerank;
  const key = JSON.stringify({
    ...body,
    images: state.images.map((image) => [image.key, image.weight]),
    oldest: state.oldest,
  });
  return { body, key };
}

const hasSomethingToSearch = (body) =>
  Boolean(
    body.query ||
      body.images ||
      body.photos ||
      (body.feedback && (body.feedback.liked.length || body.feedback.disliked.length)),
  );

// ---------------------------------------------------------------- searching

/**
 * Run the query of the current state from its first page. history: "push" | "replace" | "none".
 * Without force, a query identical to the one on screen is not sent again.
 */
async function runSearch({ history: mode = "push", force = false } = {}) {
  const { body, key } = searchBody();
  if (!force && key === shownKey) return;
  shownKey = key;
  updateAddress(mode);
  searching?.abort();
  searching = null;
  const seq = ++searchSeq;
  autoLoad = true;
  showError(els.error, null);
  const timeline = !hasSomethingToSearch(body);
  showSortControls(timeline && Boolean(body.filters));
  if (timeline && !body.filters) {
    shownBody = null;
    results = [];
    nextOffset = null;
    renderResults();
    showHiddenByCutoff(0);
    setBusy(false);
    els.info.textContent = "";
    els.welcome.hidden = false;
    return;
  }
  els.welcome.hidden = true;
  const controller = new AbortController();
  searching = controller;
  setBusy(true);
  try {
    const answer = timeline
      ? await timelinePage(body, null, controller.signal)
      : await api("/search", {
          method: "POST",
          body: { ...body, limit: PAGE_SIZE, offset: 0 },
          signal: controller.signal,
        });
    if (seq !== searchSeq) return;
    shownBody = body;
    browsing = timeline;
    monthPhotos.clear();
    for (const month of answer.months || []) monthPhotos.set(month.month, month.photos);
    results = answer.results;
    if (photosNow) photosAtLastSearch = new Map(photosNow); // else the first look sets it
    showIndexing(activeJobs);
    known.clear();
    for (const photo of results) known.set(photo.id, photo);
    nextOffset = timeline ? answer.next : answer.next_offset;
    renderResults();
    renderInfo(answer.took_ms);
    showHiddenByCutoff(answer.hidden_by_cutoff || 0);
    if (window.scrollY > els.results.offsetTop) window.scrollTo({ top: 0 });
  } catch (error) {
    if (error.name === "AbortError" || seq !== searchSeq) return;
    shownKey = null; // the same query may be tried again
    shownBody = null;
    results = [];
    nextOffset = null;
    renderResults();
    showHiddenByCutoff(0);
    els.info.textContent = "";
    els.empty.hidden = true;
    showError(els.error, error);
  } finally {
    if (seq === searchSeq) {
      searching = null;
      setBusy(false);
      rearmMore();
    }
  }
}

/** The next page of the results on screen; resolves when it is shown (or failed). */
function loadMore() {
  if (loadingMore) return loadingMore;
  if (nextOffset === null || nextOffset === undefined || !shownBody || searching) {
    return Promise.resolve();
  }
  const seq = searchSeq;
  els.loadMore.disabled = true;
  els.loadMore.textContent = "Loading…";
  loadingMore = (async () => {
    try {
      const answer = browsing
        ? await timelinePage(shownBody, nextOffset)
        : await api("/search", {
            method: "POST",
            body: { ...shownBody, limit: PAGE_SIZE, offset: nextOffset },
          });
      if (seq !== searchSeq) return;
      const fresh = answer.results.filter((photo) => !known.has(photo.id));
      for (const photo of fresh) known.set(photo.id, photo);
      for (const month of answer.months || []) monthPhotos.set(month.month, month.photos);
      const start = results.length;
      results.push(...fresh);
      nextOffset = browsing ? answer.next : answer.next_offset;
      els.results.append(...tiles(fresh, start));
      renderInfo(answer.took_ms);
      autoLoad = true;
    } catch (error) {
      if (seq !== searchSeq) return;
      autoLoad = false;
      toast(`Could not load more photos: ${errorText(error)}`, { kind: "error" });
    } finally {
      loadingMore = null;
      updateMore();
      if (seq === searchSeq && autoLoad) rearmMore();
    }
  })();
  return loadingMore;
}

/** A page of the timeline: the photos passing the filters by date, from cursor on. */
function timelinePage(body, cursor, signal) {
  const order = state.oldest ? "oldest" : "newest";
  return api("/timeline", {
    method: "POST",
    body: { filters: body.filters || {}, order, limit: PAGE_SIZE, cursor },
    signal,
  });
}

/** With no query, the filters show the timeline: "Oldest first" instead of the sort controls. */
function showSortControls(timeline) {
  els.orderField.hidden = !timeline;
  for (const field of [els.sortField, els.collapse.closest(".filter"), els.rerank.closest(".filter")])
    field.hidden = timeline;
  if (timeline) els.cutoffField.hidden = true;
  else showCutoff();
}

function setBusy(busy) {
  els.results.setAttribute("aria-busy", String(busy));
  els.results.classList.toggle("busy", busy);
  els.form.classList.toggle("busy", busy);
}

// ---------------------------------------------------------------- the grid

function resultTile(photo, index) {
  const label = photoLabel(photo);
  const vote = state.ratings.get(photo.id)?.vote || 0;
  const name = photo.filename || "this photo";
  const score = typeof photo.score === "number" ? photo.score.toFixed(3) : "";
  return h(
    "li",
    { class: "result tile", dataset: { id: photo.id, index: String(index) } },
    h(
      "button",
      { type: "button", class: "thumb", "data-action": "open", title: label, tabindex: "-1" },
      h("img", {
        src: photo.thumbnail_url,
        alt: label,
        loading: "lazy",
        decoding: "async",
        width: photo.width || 320,
        height: photo.height || 320,
        draggable: "true",
      }),
    ),
    h(
      "div",
      { class: "result-actions" },
      h(
        "button",
        {
          type: "button",
          class: "btn btn-icon btn-overlay",
          "data-action": "more-like-this",
          title: "More like this (this photo alone)",
          "aria-label": `More like ${name}`,
          tabindex: "-1",
        },
        icon("similar", 18),
      ),
      ratingButton("like", vote === 1, name),
      ratingButton("dislike", vote === -1, name),
    ),
    similarBadge(photo),
    h(
      "div",
      { class: "result-caption" },
      h("span", { class: "score", title: "Similarity score" }, score),
      matchedNote(photo),
      photo.taken_at
        ? h("time", { datetime: photo.taken_at }, formatDate(photo.taken_at))
        : h("span", { class: "muted" }, "no date"),
    ),
  );
}

/** What matched besides the picture (name, folder, keyword, ...): a quiet note on the tile. */
function matchedNote(photo) {
  const words = (photo.matched || []).filter((source) => source !== "visual");
  if (!words.length) return null;
  const all = photo.matched.join(", ");
  return h("span", { class: "matched", title: `Matched: ${all}` }, words.join(" · "));
}

/** "+N similar": near-duplicates folded under this photo; pressing it shows every photo. */
function similarBadge(photo) {
  const count = (photo.similar || []).length;
  if (!count) return null;
  return h(
    "button",
    {
      type: "button",
      class: "btn btn-small similar-badge",
      "data-action": "show-similar",
      title: "Near-duplicates of this photo: show every photo",
      tabindex: "-1",
    },
    `+${count} similar`,
  );
}

function ratingButton(action, pressed, name, withText = false) {
  const text = action === "like" ? "Like" : "Dislike";
  return h(
    "button",
    {
      type: "button",
      class: `btn ${withText ? "" : "btn-icon btn-overlay"} btn-${action}`,
      "data-action": action,
      "aria-pressed": String(pressed),
      title: action === "like" ? "More like this one when refining" : "Fewer like this one",
      "aria-label": withText ? null : `${text} ${name}`,
      tabindex: withText ? null : "-1", // in the grid: one tab stop, arrow keys inside (roving)
    },
    icon(action, 18),
    withText ? h("span", {}, text) : null,
  );
}

/** The tiles of photos from results[start] on; on the timeline, under their months' headers. */
function tiles(photos, start) {
  if (!browsing) return photos.map((photo, i) => resultTile(photo, start + i));
  const shown = [];
  let month = start > 0 ? monthOf(results[start - 1]) : null;
  photos.forEach((photo, i) => {
    if (monthOf(photo) !== month) {
      month = monthOf(photo);
      shown.push(monthHead(month));
    }
    shown.push(resultTile(photo, start + i));
  });
  return shown;
}

const monthOf = (photo) => String(photo.taken_at || "").slice(0, 7);

function monthHead(month) {
  const photos = monthPhotos.get(month);
  return h(
    "li",
    { class: "month-head", dataset: { month } },
    h("h2", {}, monthName(month)),
    typeof photos === "number" ? h("span", { class: "muted" }, plural(photos, "photo")) : null,
  );
}

function renderResults() {
  els.results.replaceChildren(...tiles(results, 0));
  rovingIndex = 0;
  makeTabStop(0);
  showEmpty();
  updateMore();
}

// ---------------------------------------------------------------- the grid's keyboard: one tab stop

let rovingIndex = 0; // the tile whose thumb is the grid's one tab stop

const tileThumbs = () => els.results.querySelectorAll(".result .thumb");

function makeTabStop(index) {
  const thumbs = tileThumbs();
  if (!thumbs.length) return null;
  const target = thumbs[Math.max(0, Math.min(index, thumbs.length - 1))];
  for (const thumb of els.results.querySelectorAll('.result .thumb[tabindex="0"]'))
    thumb.setAttribute("tabindex", "-1");
  target.setAttribute("tabindex", "0");
  rovingIndex = Number(target.closest(".result").dataset.index);
  return target;
}

/** Tiles in one row of the grid, from where they are laid out. */
function gridColumns() {
  const tiles = els.results.querySelectorAll(".result");
  if (!tiles.length) return 1;
  const top = tiles[0].offsetTop;
  let columns = 0;
  while (columns < tiles.length && tiles[columns].offsetTop === top) columns += 1;
  return Math.max(1, columns);
}

function gridStep(key) {
  const columns = gridColumns();
  const count = tileThumbs().length;
  return {
    ArrowLeft: -1,
    ArrowRight: 1,
    ArrowUp: -columns,
    ArrowDown: columns,
    Home: -rovingIndex,
    End: count - 1 - rovingIndex,
    PageUp: -columns * 3,
    PageDown: columns * 3,
  }[key];
}

els.results.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  const step = gridStep(event.key);
  if (step === undefined) return;
  event.preventDefault();
  const count = tileThumbs().length;
  const target = makeTabStop(Math.max(0, Math.min(count - 1, rovingIndex + step)));
  target?.focus();
  if (target && rovingIndex >= count - gridColumns() && autoLoad) loadMore();
});

els.results.addEventListener("focusin", (event) => {
  const tile = event.target.closest(".result");
  if (tile && event.target.classList.contains("thumb")) makeTabStop(Number(tile.dataset.index));
});

/**
 * Nothing found: with no filter, no rating and no photo left out, a search finds every photo
 * there is, so an empty answer means an empty library; say so rather than "No photos match".
 */
function showEmpty() {
  const none = Boolean(shownBody) && results.length === 0;
  els.empty.hidden = !none;
  if (!none) return;
  const body = shownBody;
  const libraryEmpty = !body.filters && !body.feedback && !body.photos;
  els.emptyTitle.textContent = libraryEmpty ? "Your library has no photos yet" : "No photos match";
  els.emptyText.textContent = libraryEmpty
    ? indexingActive
      ? "Photos are being indexed: they appear here as they are ready."
      : isAdmin()
        ? "Upload photos, or index a folder with pixseek index FOLDER."
        : "An admin adds photos by uploading them or indexing a folder."
    : browsing
      ? "Try fewer filters: the timeline shows the photos that have a capture date."
      : "Try other words, fewer filters, or a lower relevance cutoff.";
}

function renderInfo(tookMs) {
  if (!shownBody) {
    els.info.textContent = "";
    return;
  }
  const more = nextOffset !== null && nextOffset !== undefined;
  const count =
    results.length === 0
      ? "No photos"
      : more
        ? `${results.length}+ photos`
        : plural(results.length, "photo");
  const order = browsing
    ? ` by date · ${state.oldest ? "oldest" : "newest"} first`
    : { date_desc: " · newest first", date_asc: " · oldest first" }[state.sort] || "";
  const refined = shownBody.feedback ? " · refined by your ratings" : "";
  const took = typeof tookMs === "number" ? ` · ${tookMs < 10 ? tookMs.toFixed(1) : Math.round(tookMs)} ms` : "";
  els.info.textContent = `${count}${order}${refined}${took}`;
}

function updateMore() {
  const more = nextOffset !== null && nextOffset !== undefined && results.length > 0;
  els.loadMore.hidden = !more;
  els.loadMore.disabled = Boolean(loadingMore);
  els.loadMore.textContent = loadingMore ? "Loading…" : "Load more";
}

const moreObserver = new IntersectionObserver(
  (entries) => {
    if (autoLoad && entries.some((entry) => entry.isIntersecting)) loadMore();
  },
  { rootMargin: "0px 0px 1200px 0px" },
);

/** Look again whether the sentinel is near the viewport (observe() reports it at once). */
function rearmMore() {
  moreObserver.unobserve(els.more);
  if (nextOffset !== null && nextOffset !== undefined) moreObserver.observe(els.more);
}

// ---------------------------------------------------------------- indexing under way

const INDEXING_KINDS = new Set(["index", "upload", "reindex", "reconcile"]);
const ADDING_KINDS = new Set(["index", "upload", "reconcile"]); // these bring new photos
const POLL_ACTIVE_MS = 1500;
const POLL_IDLE_MS = 10_000;
let indexingActive = false;
let activeJobs = []; // the indexing jobs queued or running at the last look
let photosAtLastSearch = null; // job id -> photos done when the results on screen were asked for
let photosNow = null; // job id -> photos done at the last look (null before the first)

/** "Indexing 32 of 150 · ETA 12 s" while jobs index, and "Refresh results" once new photos are
 * in: the page asks the job list every few seconds (more often while something runs, and at once
 * when the tab shows again). */
async function pollIndexing() {
  let jobs = [];
  try {
    jobs = (await api("/jobs?limit=20")).jobs;
  } catch {
    // the next poll tries again; a search says what is wrong with the server
  }
  const indexing = jobs.filter((job) => INDEXING_KINDS.has(job.kind));
  const active = indexing.filter((job) => job.state === "queued" || job.state === "running");
  photosNow = new Map(indexing.filter((j) => ADDING_KINDS.has(j.kind)).map((j) => [j.id, j.done]));
  if (photosAtLastSearch === null) photosAtLastSearch = new Map(photosNow);
  activeJobs = active;
  showIndexing(active);
}

function showIndexing(active) {
  const wasActive = indexingActive;
  indexingActive = active.length > 0;
  const total = active.reduce((sum, job) => sum + job.total, 0);
  const done = active.reduce((sum, job) => sum + job.done + job.failed, 0);
  const etas = active.map((job) => job.eta_seconds).filter((eta) => typeof eta === "number");
  const eta = etas.length ? ` · ETA ${formatDuration(Math.max(...etas))}` : "";
  const fresh = newPhotosSinceSearch();
  els.indexingText.textContent = indexingActive
    ? `Indexing ${formatCount(done)} of ${formatCount(total)}${eta}`
    : fresh
      ? `${plural(fresh, "new photo")} indexed since these results.`
      : "";
  els.indexingSpinner.hidden = !indexingActive;
  els.indexingRefresh.hidden = !(fresh && shownBody);
  els.indexing.hidden = !indexingActive && !(fresh && shownBody);
  els.indexing.dataset.state = indexingActive ? "running" : fresh ? "new-photos" : "idle";
  if (wasActive !== indexingActive) showEmpty();
}

function newPhotosSinceSearch() {
  let fresh = 0;
  for (const [id, done] of photosNow || []) {
    fresh += Math.max(0, done - (photosAtLastSearch?.get(id) || 0));
  }
  return fresh;
}

els.indexingRefresh.addEventListener("click", () => {
  runSearch({ history: "none", force: true });
});

// ---------------------------------------------------------------- chips: images and photos

function renderChips() {
  const chips = [
    ...state.images.map((image) =>
      termChip({
        kind: "image",
        key: image.key,
        src: image.url,
        label: image.name,
        weight: image.weight,
      }),
    ),
    ...state.photos.map((photo) =>
      termChip({
        kind: "photo",
        key: photo.id,
        src: photo.thumb,
        label: photo.label,
        weight: photo.weight,
      }),
    ),
  ];
  els.chips.replaceChildren(...chips);
  els.chips.hidden = chips.length === 0;
}

function termChip({ kind, key, src, label, weight }) {
  const towards = weight > 0;
  const what = kind === "image" ? "image" : "photo";
  return h(
    "li",
    {
      class: `chip chip-term ${towards ? "chip-positive" : "chip-negative"}`,
      dataset: { kind, key },
      title: towards ? `Searching for ${what}s like ${label}` : `Searching away from ${label}`,
    },
    h("img", {
      src,
      alt: "",
      class: "chip-thumb",
      width: 40,
      height: 40,
      onerror: (event) => event.target.classList.add("broken"),
    }),
    h(
      "span",
      { class: "chip-label" },
      h("span", { class: "chip-sign", "aria-hidden": "true" }, towards ? "+" : "−"),
      h("span", { class: "chip-name" }, label),
    ),
    h(
      "button",
      {
        type: "button",
        class: "chip-button",
        "data-chip": "flip",
        title: towards ? `Search away from this ${what}` : `Search towards this ${what}`,
        "aria-label": towards
          ? `Search away from ${what} ${label}`
          : `Search towards ${what} ${label}`,
      },
      icon(towards ? "minus" : "plus", 16),
    ),
    h(
      "button",
      {
        type: "button",
        class: "chip-button",
        "data-chip": "remove",
        title: `Remove this ${what} from the query`,
        "aria-label": `Remove ${what} ${label} from the query`,
      },
      icon("x", 16),
    ),
  );
}

function onChipClick(event) {
  const button = event.target.closest("button[data-chip]");
  if (!button) return;
  const chip = button.closest(".chip");
  const { kind, key } = chip.dataset;
  const list = kind === "image" ? state.images : state.photos;
  const index = list.findIndex((term) => (kind === "image" ? term.key : term.id) === key);
  if (index < 0) return;
  if (button.dataset.chip === "remove") list.splice(index, 1);
  else list[index].weight = -list[index].weight;
  renderChips();
  readControls();
  runSearch({ force: true });
  // Keep the keyboard where it was: the same chip's button, or the query box.
  const again = els.chips.querySelector(
    `.chip[data-key="${CSS.escape(key)}"] button[data-chip="${button.dataset.chip}"]`,
  );
  (again || els.query).focus();
}

function blobToBase64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error || new Error("the file cannot be read"));
    reader.readAsDataURL(blob);
  });
}

/** Base64 of the file, scaled down first when it is a big picture the browser can decode. */
async function imageData(file) {
  if (file.size > SHRINK_ABOVE_BYTES && "createImageBitmap" in window) {
    try {
      const bitmap = await createImageBitmap(file);
      const scale = SHRINK_TO_SIDE / Math.max(bitmap.width, bitmap.height);
      if (scale < 1) {
        const canvas = document.createElement("canvas");
        canvas.width = Math.round(bitmap.width * scale);
        canvas.height = Math.round(bitmap.height * scale);
        canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        bitmap.close();
        const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
        if (blob) return blobToBase64(blob);
      }
    } catch {
      // a format this browser cannot decode (HEIC...): the server reads the original
    }
  }
  return blobToBase64(file);
}

const looksLikeImage = (file) =>
  file.type.startsWith("image/") || /\.(heic|heif|avif|jxl|tiff?|webp)$/i.test(file.name || "");

async function addImageFiles(fileList) {
  const files = [...(fileList || [])];
  const images = files.filter(looksLikeImage);
  if (!images.length) {
    if (files.length) toast("That is not an image file.", { kind: "error" });
    return;
  }
  let added = 0;
  for (const file of images) {
    if (state.images.length >= MAX_IMAGES) {
      toast(`A query holds at most ${MAX_IMAGES} images.`, { kind: "error" });
      break;
    }
    try {
      const data = await imageData(file);
      if (!(await isReadablePicture(file, data))) {
        const name = file.name || "The pasted image";
        toast(`${name} cannot be searched by: it is not a picture pixseek can read.`, {
          kind: "error",
          timeout: 8000,
        });
        continue;
      }
      imageCounter += 1;
      const term = {
        key: `img${Date.now().toString(36)}${imageCounter}`,
        data,
        url: URL.createObjectURL(file),
        name: file.name || "pasted image",
        weight: 1,
      };
      imageStore.set(term.key, term);
      state.images.push(term);
      added += 1;
    } catch (error) {
      toast(`${file.name || "The image"} cannot be read: ${errorText(error)}`, { kind: "error" });
    }
  }
  if (!added) return;
  renderChips();
  readControls();
  runSearch({ force: true });
}

/**
 * Whether a query image can be searched by: the browser decodes it, or (a format it cannot,
 * such as HEIC) the server does. A broken file is refused here, so it never joins the query.
 */
async function isReadablePicture(file, data) {
  if ("createImageBitmap" in window) {
    try {
      (await createImageBitmap(file)).close();
      return true;
    } catch {
      // not decodable here: ask the server, which reads more formats
    }
  }
  try {
    await api("/search", { method: "POST", body: { images: [{ data }], limit: 1 } });
    return true;
  } catch (error) {
    if (error.status === 422) return false;
    throw error;
  }
}

function addPhotoTerm(id, { replace = false } = {}) {
  const term = photoTerm(id, 1);
  if (replace) state.photos = [term];
  else if (!state.photos.some((photo) => photo.id === id)) state.photos.push(term);
  renderChips();
  readControls();
  runSearch({ force: true });
}

// ---------------------------------------------------------------- ratings

function rate(id, vote) {
  const current = state.ratings.get(id)?.vote || 0;
  if (current === vote) state.ratings.delete(id);
  else state.ratings.set(id, ratingOf(id, vote));
  const now = state.ratings.get(id)?.vote || 0;
  for (const holder of document.querySelectorAll(`[data-id="${CSS.escape(id)}"]`)) {
    for (const button of holder.querySelectorAll('button[data-action="like"]'))
      button.setAttribute("aria-pressed", String(now === 1));
    for (const button of holder.querySelectorAll('button[data-action="dislike"]'))
      button.setAttribute("aria-pressed", String(now === -1));
  }
  renderRefine();
}

function currentFeedback() {
  const liked = [];
  const disliked = [];
  for (const [id, rating] of state.ratings) (rating.vote > 0 ? liked : disliked).push(id);
  return { liked, disliked };
}

function renderRefine() {
  const { liked, disliked } = currentFeedback();
  const rated = liked.length + disliked.length;
  els.refine.hidden = rated === 0 && !state.feedback;
  const parts = [];
  if (liked.length) parts.push(`${liked.length} liked`);
  if (disliked.length) parts.push(`${disliked.length} disliked`);
  els.refineSummary.textContent = parts.length ? parts.join(" · ") : "No ratings";
  const applied =
    state.feedback &&
    JSON.stringify(state.feedback) === JSON.stringify({ liked, disliked });
  els.refineNote.textContent = applied
    ? "These results are refined by your ratings; rated photos are left out."
    : "Refine to find more like the liked photos and fewer like the disliked ones.";
  els.refineSearch.disabled = Boolean(applied) || (rated === 0 && !state.feedback);
  els.refineSearch.textContent = rated === 0 && state.feedback ? "Search without ratings" : "Refine";
  els.refineRated.replaceChildren(
    ...[...state.ratings].map(([id, rating]) =>
      h(
        "li",
        { class: `chip chip-rated ${rating.vote > 0 ? "chip-positive" : "chip-negative"}`, dataset: { id } },
        h("img", { src: rating.thumb, alt: "", class: "chip-thumb", width: 32, height: 32 }),
        h("span", { class: "chip-badge", "aria-hidden": "true" }, icon(rating.vote > 0 ? "like" : "dislike", 14)),
        h(
          "button",
          {
            type: "button",
            class: "chip-button",
            "data-unrate": id,
            title: "Remove this rating",
            "aria-label": `Remove the ${rating.vote > 0 ? "like" : "dislike"} of ${rating.label}`,
          },
          icon("x", 14),
        ),
      ),
    ),
  );
}

function refine() {
  const { liked, disliked } = currentFeedback();
  state.feedback = liked.length || disliked.length ? { liked, disliked } : null;
  readControls();
  renderRefine();
  runSearch({ force: true });
}

function clearRatings() {
  const wasApplied = Boolean(state.feedback);
  const ids = [...state.ratings.keys()];
  state.ratings.clear();
  state.feedback = null;
  for (const id of ids) {
    for (const button of document.querySelectorAll(
      `[data-id="${CSS.escape(id)}"] button[aria-pressed]`,
    ))
      button.setAttribute("aria-pressed", "false");
  }
  renderRefine();
  if (wasApplied) {
    readControls();
    runSearch({ force: true });
  }
}

// ---------------------------------------------------------------- actions on a photo

function onPhotoAction(action, photo, button) {
  if (action === "show-similar") {
    state.collapse = false;
    els.collapse.checked = false;
    runSearch();
  } else if (action === "open") {
    const index = results.findIndex((p) => p.id === photo.id);
    openDetail(results, index < 0 ? 0 : index, button);
  } else if (action === "more-like-this") {
    moreLikeThis(photo);
  } else if (action === "combine") {
    moreLikeThis(photo, { combine: true });
  } else if (action === "like") {
    rate(photo.id, 1);
  } else if (action === "dislike") {
    rate(photo.id, -1);
  }
}

/**
 * Search by this photo alone (filters and sort stay), or with combine, add it to the query
 * (text, images, other photos and ratings stay).
 */
function moreLikeThis(photo, { combine = false } = {}) {
  known.set(photo.id, photo);
  if (els.detail.open) {
    restoreFocus = false;
    leaveHistory = true; // the new search takes over the viewer's history entry
    els.detail.close();
  }
  if (!combine) {
    els.query.value = "";
    state.images = [];
    state.ratings.clear();
    state.feedback = null;
    renderRefine();
  }
  addPhotoTerm(photo.id, { replace: !combine });
  // The tile that was clicked is about to go: keep the keyboard on the new query's chip.
  els.chips.querySelector('.chip[data-kind="photo"] button')?.focus({ preventScroll: true });
}

els.results.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  const tile = event.target.closest(".result");
  if (!button || !tile) return;
  const photo = known.get(tile.dataset.id);
  if (photo) onPhotoAction(button.dataset.action, photo, button);
});

els.results.addEventListener("dragstart", (event) => {
  const tile = event.target.closest(".result");
  if (tile && event.dataTransfer) {
    event.dataTransfer.setData(PHOTO_DRAG_TYPE, tile.dataset.id);
    event.dataTransfer.effectAllowed = "copy";
  }
});

// ---------------------------------------------------------------- the detail dialog

let detailList = [];
let detailIndex = -1;
let detailOpener = null;
let similarController = null;
let restoreFocus = true;
let leaveHistory = false; // closing without stepping back: a new search replaces the entry
let closedByHistory = false; // closing because Back left the viewer's entry

function openDetail(list, index, opener, { fromHistory = false } = {}) {
  if (!list.length || index < 0) return;
  detailList = list;
  detailIndex = index;
  if (!els.detail.open) {
    detailOpener = opener || document.activeElement;
    els.detail.showModal();
    renderDetail({ fromHistory });
    els.detailClose.focus();
    return;
  }
  renderDetail({ fromHistory });
}

/** The open photo has its own address (?photo=id over the search's): Back closes the viewer,
 * and moving to another photo replaces the entry rather than adding one per photo. */
function addressOfPhoto(id) {
  const params = toParams();
  params.set("photo", id);
  return `${location.pathname}?${params}`;
}

function showPhotoInAddress(photo) {
  const url = addressOfPhoto(photo.id);
  if (new URLSearchParams(location.search).has("photo")) history.replaceState(history.state, "", url);
  else history.pushState({ ...(history.state || {}), viewer: true }, "", url);
}

/** Close the viewer; its history entry goes with it (Back), unless the address came with it. */
function closeDetail() {
  if (els.detail.open) els.detail.close();
}

function leaveViewerEntry() {
  if (history.state?.viewer) {
    closedByHistory = true; // the popstate that follows finds the viewer already closed
    history.back();
  } else if (new URLSearchParams(location.search).has("photo")) {
    updateAddress("replace"); // opened from a shared address: drop the photo from it
  }
}

/** Open the viewer on the photo the address names: from the grid, else fetched alone. */
async function openPhotoFromAddress(id) {
  const index = results.findIndex((p) => p.id === id);
  if (index >= 0) {
    openDetail(results, index, null, { fromHistory: true });
    return;
  }
  try {
    const photo = await api(`/images/${encodeURIComponent(id)}`);
    openDetail([photo], 0, null, { fromHistory: true });
  } catch (error) {
    toast(`That photo cannot be shown: ${errorText(error)}`, { kind: "error" });
    updateAddress("replace");
  }
}

function renderDetail({ fromHistory = false } = {}) {
  const photo = detailList[detailIndex];
  if (!photo) return;
  known.set(photo.id, photo);
  if (!fromHistory) showPhotoInAddress(photo);
  const label = photoLabel(photo);
  const inGrid = detailList === results;
  const more = inGrid && nextOffset !== null && nextOffset !== undefined;
  els.detailTitle.textContent = photo.filename || label;
  els.detailPosition.textContent = `${detailIndex + 1} of ${detailList.length}${more ? "+" : ""}`;
  els.detailPrev.disabled = detailIndex === 0;
  els.detailNext.disabled = detailIndex >= detailList.length - 1 && !more;

  const preview = previewImage(photo, label);
  els.detailFigure.replaceChildren(preview);

  const vote = state.ratings.get(photo.id)?.vote || 0;
  els.detailActions.dataset.id = photo.id;
  els.detailActions.replaceChildren(
    h(
      "button",
      {
        type: "button",
        class: "btn btn-primary",
        "data-action": "more-like-this",
        title: "Search by this photo alone",
      },
      icon("similar", 18),
      h("span", {}, "More like this"),
    ),
    h(
      "button",
      {
        type: "button",
        class: "btn",
        "data-action": "combine",
        title: "Add this photo to the search on screen (its words, images and ratings stay)",
        hidden: !hasSomethingToSearch(shownBody || {}), // nothing on screen to combine with
      },
      icon("plus", 18),
      h("span", {}, "Combine with my query"),
    ),
    ratingButton("like", vote === 1, photo.filename, true),
    ratingButton("dislike", vote === -1, photo.filename, true),
    h(
      "a",
      {
        class: "btn",
        href: photo.original_url,
        target: "_blank",
        rel: "noopener",
        title: "The original file, in a new tab",
      },
      icon("external", 18),
      h("span", {}, "Original"),
    ),
    h(
      "a",
      {
        class: "btn",
        href: photo.original_url,
        download: photo.filename || "",
        title: photo.filename ? `Save the original as ${photo.filename}` : "Save the original",
      },
      icon("download", 18),
      h("span", {}, "Download"),
    ),
    h(
      "a",
      { class: "btn", href: `/photos/${encodeURIComponent(photo.id)}`, title: "This photo's own page" },
      icon("page", 18),
      h("span", {}, "Photo page"),
    ),
  );
  els.detailMeta.replaceChildren(photoMetadata(photo));
  loadSimilar(photo);

  // The neighbours' previews, so the arrow keys feel instant.
  for (const near of [detailList[detailIndex + 1], detailList[detailIndex - 1]]) {
    if (near) new Image().src = near.preview_url;
  }
}

async function loadSimilar(photo) {
  similarController?.abort();
  const controller = new AbortController();
  similarController = controller;
  els.detailSimilar.replaceChildren(
    ...Array.from({ length: 6 }, () => h("li", { class: "similar-item skeleton", "aria-hidden": "true" })),
  );
  els.detailSimilar.setAttribute("aria-busy", "true");
  try {
    const answer = await api("/search", {
      method: "POST",
      body: { photos: [{ id: photo.id }], limit: SIMILAR_COUNT },
      signal: controller.signal,
    });
    if (controller.signal.aborted) return;
    const list = answer.results;
    for (const item of list) if (!known.has(item.id)) known.set(item.id, item);
    els.detailSimilar.replaceChildren(
      ...list.map((item, i) =>
        h(
          "li",
          { class: "similar-item", dataset: { id: item.id } },
          h(
            "button",
            {
              type: "button",
              class: "thumb",
              title: photoLabel(item),
              onclick: () => openDetail(list, i),
            },
            h("img", {
              src: item.thumbnail_url,
              alt: photoLabel(item),
              loading: "lazy",
              decoding: "async",
              width: 160,
              height: 160,
            }),
          ),
        ),
      ),
    );
    if (!list.length) els.detailSimilar.replaceChildren(h("li", { class: "muted" }, "No other photos."));
  } catch (error) {
    if (error.name === "AbortError") return;
    els.detailSimilar.replaceChildren(
      h("li", { class: "muted" }, `Similar photos could not be loaded: ${errorText(error)}`),
    );
  } finally {
    if (similarController === controller) {
      els.detailSimilar.setAttribute("aria-busy", "false");
      similarController = null;
    }
  }
}

async function moveDetail(step) {
  if (!els.detail.open) return;
  const target = detailIndex + step;
  if (target < 0) return;
  if (target >= detailList.length) {
    if (detailList !== results || nextOffset === null || nextOffset === undefined) return;
    await loadMore();
    if (target >= detailList.length) return;
  }
  detailIndex = target;
  renderDetail();
}

els.detailPrev.addEventListener("click", () => moveDetail(-1));
els.detailNext.addEventListener("click", () => moveDetail(1));
els.detailClose.addEventListener("click", closeDetail);
els.detail.addEventListener("click", (event) => {
  if (event.target === els.detail) closeDetail(); // the backdrop
});

// Swipe left or right on a touch screen: the next or previous photo.
const SWIPE_MIN_PX = 50;
let swipeStart = null;
els.detailFigure.addEventListener(
  "touchstart",
  (event) => {
    const touch = event.touches.length === 1 ? event.touches[0] : null;
    swipeStart = touch ? { x: touch.clientX, y: touch.clientY } : null;
  },
  { passive: true },
);
els.detailFigure.addEventListener("touchend", (event) => {
  const touch = event.changedTouches[0];
  if (!swipeStart || !touch) return;
  const dx = touch.clientX - swipeStart.x;
  const dy = touch.clientY - swipeStart.y;
  swipeStart = null;
  if (Math.abs(dx) >= SWIPE_MIN_PX && Math.abs(dx) > 1.5 * Math.abs(dy)) moveDetail(dx < 0 ? 1 : -1);
});
document.addEventListener("keydown", (event) => {
  if (!els.detail.open || isTyping(event) || event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.key === "ArrowLeft") {
    event.preventDefault();
    moveDetail(-1);
  } else if (event.key === "ArrowRight") {
    event.preventDefault();
    moveDetail(1);
  }
});
els.detailActions.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  const photo = detailList[detailIndex];
  if (button && photo) onPhotoAction(button.dataset.action, photo, button);
});
els.detail.addEventListener("close", () => {
  similarController?.abort();
  if (leaveHistory || closedByHistory) {
    leaveHistory = false;
    closedByHistory = false;
  } else {
    leaveViewerEntry();
  }
  const again = restoreFocus;
  restoreFocus = true;
  if (!again) {
    detailOpener = null;
    return;
  }
  const photo = detailList[detailIndex];
  // Back to the grid where the dialog left off: that photo's tile if it is there.
  const tile = photo && els.results.querySelector(`.result[data-id="${CSS.escape(photo.id)}"] .thumb`);
  const target = tile || (detailOpener && detailOpener.isConnected ? detailOpener : null);
  if (target) {
    target.focus({ preventScroll: true });
    target.scrollIntoView({ block: "nearest" });
  }
  detailOpener = null;
});

// ---------------------------------------------------------------- controls

els.form.addEventListener("submit", (event) => {
  event.preventDefault();
  readControls();
  runSearch({ force: true });
});

els.imagePick.addEventListener("click", () => els.imageInput.click());
els.imageInput.addEventListener("change", () => {
  addImageFiles(els.imageInput.files);
  els.imageInput.value = "";
});
els.chips.addEventListener("click", onChipClick);
els.refineRated.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-unrate]");
  if (!button) return;
  const id = button.dataset.unrate;
  const vote = state.ratings.get(id)?.vote;
  if (vote) rate(id, vote); // rating again with the same vote removes it
  els.refineSearch.disabled ? els.refineClear.focus() : els.refineSearch.focus();
});
els.refineSearch.addEventListener("click", refine);
els.refineClear.addEventListener("click", clearRatings);

function filtersChanged() {
  readControls();
  values.showPeriod();
  showFilterCount();
  runSearch();
  values.load(filtersBody());
}

const values = filterValues(els, filtersChanged);

let textFilterTimer = null;
for (const input of [els.after, els.before, els.format, els.shape, els.location, els.sort, els.collapse, els.rerank, els.oldest]) {
  input.addEventListener("change", () => {
    showCutoff();
    filtersChanged();
  });
}
for (const input of [els.camera, els.folder, els.place]) {
  input.addEventListener("input", () => {
    clearTimeout(textFilterTimer);
    textFilterTimer = setTimeout(() => {
      // while the library's values are offered, one is taken (or Enter pressed) to search
      if (input.getAttribute("aria-expanded") !== "true") filtersChanged();
    }, TEXT_FILTER_DELAY_MS);
  });
  input.addEventListener("change", () => {
    clearTimeout(textFilterTimer);
    filtersChanged();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      clearTimeout(textFilterTimer);
      filtersChanged();
    }
  });
}
els.cutoff.addEventListener("input", showCutoff);
els.cutoff.addEventListener("change", filtersChanged);

/** The slider in plain words: how close to the best match a photo must be to be shown. */
function cutoffWords(cutoff) {
  if (cutoff <= 0) return "every match";
  return `${Math.round(cutoff * 100)} % as good as the best`;
}

function showCutoff() {
  const dated = els.sort.value !== "relevance" && els.orderField.hidden; // not on the timeline
  const cutoff = Number.parseFloat(els.cutoff.value);
  els.cutoffField.hidden = !dated;
  els.cutoffValue.textContent = cutoffWords(cutoff);
  els.cutoff.setAttribute("aria-valuetext", cutoffWords(cutoff));
  els.cutoffHelp.textContent =
    cutoff <= 0
      ? "Sorted by date, every photo that matches at all is shown."
      : `Sorted by date, only photos matching at least ${Math.round(cutoff * 100)} % as well ` +
        "as the best one are shown. Slide left for looser matches.";
}

/** "12 less relevant photos hidden · Show all": a date sort never drops photos silently. */
function showHiddenByCutoff(hidden) {
  const dated = shownBody && shownBody.sort !== "relevance";
  els.cutoffNote.hidden = !(dated && hidden > 0);
  if (els.cutoffNote.hidden) return;
  els.cutoffHidden.textContent =
    `${plural(hidden, "less relevant photo")} ${hidden === 1 ? "is" : "are"} hidden ` +
    `by the relevance cutoff (${cutoffWords(state.cutoff)}).`;
}

els.showAll.addEventListener("click", () => {
  els.cutoff.value = "0";
  showCutoff();
  filtersChanged();
});

function showFilterCount() {
  const count = activeFilterCount();
  els.filtersToggle.textContent = count ? `Filters (${count})` : "Filters";
  els.filtersClear.hidden = count === 0;
}

els.filtersClear.addEventListener("click", () => {
  for (const input of [els.after, els.before, els.camera, els.folder, els.place]) input.value = "";
  els.format.value = "";
  els.shape.value = "";
  els.location.checked = false;
  filtersChanged();
  els.query.focus();
});

els.filtersToggle.addEventListener("click", () => {
  const open = !els.filters.classList.contains("open");
  els.filters.classList.toggle("open", open);
  els.filtersToggle.setAttribute("aria-expanded", String(open));
});

els.loadMore.addEventListener("click", () => {
  autoLoad = true;
  loadMore();
});

for (const example of document.querySelectorAll("[data-example]")) {
  example.addEventListener("click", () => {
    els.query.value = example.dataset.example;
    readControls();
    runSearch({ force: true });
  });
}

// "/" jumps to the query box from anywhere but a text field.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  if (isTyping(event) || els.detail.open) return;
  event.preventDefault();
  els.query.focus();
  els.query.select();
});

// Paste an image from the clipboard: it joins the query.
document.addEventListener("paste", (event) => {
  const files = [...(event.clipboardData?.files || [])].filter(looksLikeImage);
  if (!files.length) return;
  event.preventDefault();
  addImageFiles(files);
});

// Drop image files (or a photo from the grid) anywhere on the page.
let dragDepth = 0;
const droppable = (event) =>
  Boolean(event.dataTransfer) &&
  [...event.dataTransfer.types].some((type) => type === "Files" || type === PHOTO_DRAG_TYPE);
document.addEventListener("dragenter", (event) => {
  if (!droppable(event)) return;
  dragDepth += 1;
  els.dropOverlay.hidden = false;
});
document.addEventListener("dragleave", (event) => {
  if (!droppable(event)) return;
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) els.dropOverlay.hidden = true;
});
document.addEventListener("dragover", (event) => {
  if (!droppable(event)) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "copy";
});
document.addEventListener("drop", (event) => {
  if (!droppable(event)) return;
  event.preventDefault();
  dragDepth = 0;
  els.dropOverlay.hidden = true;
  const id = event.dataTransfer.getData(PHOTO_DRAG_TYPE);
  if (id) addPhotoTerm(id);
  else addImageFiles(event.dataTransfer.files);
});
document.addEventListener("dragend", () => {
  dragDepth = 0;
  els.dropOverlay.hidden = true;
});

window.addEventListener("popstate", (event) => {
  const params = new URLSearchParams(location.search);
  const photo = params.get("photo");
  params.delete("photo");
  const sameSearch = params.toString() === toParams().toString();
  if (els.detail.open && (!photo || !sameSearch)) {
    closedByHistory = true; // Back (or Forward) left the viewer: not another step back
    els.detail.close();
  } else {
    closedByHistory = false;
  }
  if (!sameSearch) {
    fromParams(params, event.state?.images || []);
    writeControls();
    runSearch({ history: "none", force: true }).then(() => photo && openPhotoFromAddress(photo));
    values.load(filtersBody());
    nameUnknownPhotos();
  } else if (photo && !els.detail.open) {
    openPhotoFromAddress(photo);
  }
});

/** Photo terms that came from the address know only their id: ask for their file names. */
async function nameUnknownPhotos() {
  const unnamed = state.photos.filter((photo) => photo.label === "photo");
  let named = 0;
  await Promise.all(
    unnamed.map(async (photo) => {
      try {
        const found = await api(`/images/${encodeURIComponent(photo.id)}`);
        photo.label = found.filename || photo.label;
        photo.thumb = found.thumbnail_url;
        named += 1;
      } catch {
        // the search itself reports a photo that is not there
      }
    }),
  );
  if (named) renderChips();
}

// ---------------------------------------------------------------- start

const startParams = new URLSearchParams(location.search);
const startPhoto = startParams.get("photo");
fromParams(startParams, history.state?.images || []);
writeControls();
runSearch({ history: startPhoto ? "none" : "replace", force: true }).then(() => {
  if (startPhoto) openPhotoFromAddress(startPhoto);
});
nameUnknownPhotos();
values.load(filtersBody());
every(() => (activeJobs.length ? POLL_ACTIVE_MS : POLL_IDLE_MS), pollIndexing);
if (!state.q && !state.photos.length && !state.images.length && !state.feedback) {
  els.query.focus({ preventScroll: true });
}
