// pixseek: what every page shares. The JSON API helper, formatting, DOM building, notices.

const API_PREFIX = "/api/v1";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function meta(name) {
  const tag = document.querySelector(`meta[name="${name}"]`);
  return tag ? tag.getAttribute("content") || "" : "";
}

export const csrfToken = () => meta("csrf-token");
export const currentRole = () => meta("pixseek-role");
export const currentUser = () => meta("pixseek-user");
export const isAdmin = () => currentRole() === "admin";

/** An answer other than 2xx: the server's message, its status and the field details. */
export class ApiError extends Error {
  constructor(message, status = 0, details = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.details = details;
  }
}

/** Send the browser to the login page, coming back here afterwards. */
export function goToLogin() {
  const here = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(here)}`);
}

/** Where a 401 sends the page, and the error a caller sees meanwhile. */
function unauthorized() {
  goToLogin();
  return new ApiError("Your session has ended: log in again.", 401);
}

/**
 * Call the JSON API. path is relative to /api/v1 ("/search"). A plain object body is sent as
 * JSON; FormData, Blob and strings as they are. Unsafe methods carry the CSRF token. Returns the
 * parsed JSON (null for 204); throws ApiError with the server's message for any other status.
 */
export async function api(path, { method = "GET", body, headers = {}, signal } = {}) {
  const url = path.startsWith(API_PREFIX + "/") ? path : API_PREFIX + path;
  const verb = method.toUpperCase();
  const sent = { Accept: "application/json", ...headers };
  if (!SAFE_METHODS.has(verb)) sent["X-CSRF-Token"] = csrfToken();
  let payload = body;
  const raw =
    body === undefined ||
    body === null ||
    typeof body === "string" ||
    body instanceof FormData ||
    body instanceof Blob ||
    body instanceof URLSearchParams;
  if (!raw) {
    sent["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let answer;
  try {
    answer = await fetch(url, {
      method: verb,
      headers: sent,
      body: payload ?? undefined,
      credentials: "same-origin",
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("The server cannot be reached. Is pixseek still running?", 0);
  }
  if (answer.status === 401) throw unauthorized();
  const type = answer.headers.get("Content-Type") || "";
  if (!answer.ok) {
    let error = null;
    if (type.includes("json")) {
      try {
        error = (await answer.json()).error || null;
      } catch {
        error = null;
      }
    }
    const message = error?.message || `${answer.status} ${answer.statusText || "error"}`;
    throw new ApiError(message, answer.status, error?.details || []);
  }
  if (answer.status === 204) return null;
  return type.includes("json") ? answer.json() : answer.text();
}

/** An ApiError (or any error) as one line a person can read. */
export function errorText(error) {
  if (!error) return "Something went wrong.";
  const details = (error.details || [])
    .map((d) => (d.field ? `${d.field}: ${d.message}` : d.message))
    .filter((line) => line && !String(error.message).includes(line));
  return [error.message || String(error), ...details].join(" — ");
}

// ---------------------------------------------------------------- DOM building

/**
 * h("a", {href: "/", class: "link", dataset: {id: 1}, onclick: fn}, "text", child, [more])
 * Text children become text nodes (never HTML); null, undefined and false are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "text") el.textContent = value;
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key.startsWith("on") && typeof value === "function")
      el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

const ICONS = {
  search: '<circle cx="11" cy="11" r="7"/><path d="m20.5 20.5-4.2-4.2"/>',
  image:
    '<rect x="3" y="4" width="18" height="16" rx="2.5"/><circle cx="9" cy="10" r="2"/><path d="m21 16-5-5-9.5 9"/>',
  x: '<path d="M6 6l12 12M18 6 6 18"/>',
  plus: '<path d="M12 5v14M5 12h14"/>',
  minus: '<path d="M5 12h14"/>',
  like: '<path d="M7 10.5V20H4.5a1 1 0 0 1-1-1v-7.5a1 1 0 0 1 1-1H7Zm0 0 3.6-6.6a1.7 1.7 0 0 1 3.1 1.2L13 9.5h5.6a2 2 0 0 1 2 2.4l-1.4 6.5a2 2 0 0 1-2 1.6H7"/>',
  dislike:
    '<g transform="rotate(180 12 12)"><path d="M7 10.5V20H4.5a1 1 0 0 1-1-1v-7.5a1 1 0 0 1 1-1H7Zm0 0 3.6-6.6a1.7 1.7 0 0 1 3.1 1.2L13 9.5h5.6a2 2 0 0 1 2 2.4l-1.4 6.5a2 2 0 0 1-2 1.6H7"/></g>',
  similar:
    '<rect x="3" y="3" width="8" height="8" rx="1.5"/><rect x="13" y="13" width="8" height="8" rx="1.5"/><path d="M15 3.5h3.5A2 2 0 0 1 20.5 5.5V9M9 20.5H5.5a2 2 0 0 1-2-2V15"/>',
  left: '<path d="m15 18-6-6 6-6"/>',
  right: '<path d="m9 18 6-6-6-6"/>',
  external:
    '<path d="M14 4h6v6M20 4l-9 9M18 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h5"/>',
  upload: '<path d="M12 16V4m-5 5 5-5 5 5M4 15v4a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-4"/>',
  download: '<path d="M12 4v12m-5-5 5 5 5-5M4 15v4a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-4"/>',
  filter:
    '<path d="M4 6h9M17 6h3M4 12h3M11 12h9M4 18h11M19 18h1"/><circle cx="15" cy="6" r="2"/><circle cx="9" cy="12" r="2"/><circle cx="17" cy="18" r="2"/>',
  pin: '<path d="M12 21s-7-6.2-7-11.2a7 7 0 0 1 14 0C19 14.8 12 21 12 21Z"/><circle cx="12" cy="9.8" r="2.5"/>',
  copy: '<rect x="8" y="8" width="12" height="12" rx="2"/><path d="M16 8V5a1 1 0 0 0-1-1H5a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h3"/>',
  page: '<path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8l-5-5Z"/><path d="M14 3v5h5M9 13h6M9 17h6"/>',
  check: '<path d="m5 12.5 4.5 4.5L19 7.5"/>',
  alert: '<path d="M12 3 2 20h20L12 3Z"/><path d="M12 10v4.5M12 17.5v.01"/>',
};

/** An inline SVG icon (decorative: hidden from assistive technology). */
export function icon(name, size = 20) {
  const wrap = document.createElement("span");
  wrap.className = "icon";
  wrap.setAttribute("aria-hidden", "true");
  wrap.innerHTML =
    `<svg viewBox="0 0 24 24" width="${size}" height="${size}" fill="none" stroke="currentColor" ` +
    `stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" focusable="false">` +
    `${ICONS[name] || ""}</svg>`;
  return wrap;
}

// ---------------------------------------------------------------- formatting

function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  // Numbers are epoch seconds (jobs, tokens); strings are ISO. A wall-clock "YYYY-MM-DDTHH:MM:SS"
  // without an offset is read as local time, which shows the time the camera wrote.
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });

/** "Jun 1, 2021" (or with the time); "" when there is no date. */
export function formatDate(value, { time = false } = {}) {
  const date = toDate(value);
  if (!date) return "";
  return (time ? dateTime : dateOnly).format(date);
}

/** The time of day for today's dates, the date and time otherwise. */
export function formatWhen(value) {
  const date = toDate(value);
  if (!date) return "";
  const today = new Date();
  return date.toDateString() === today.toDateString()
    ? timeOnly.format(date)
    : dateTime.format(date);
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** "3 minutes ago", "yesterday". */
export function formatAgo(value) {
  const date = toDate(value);
  if (!date) return "";
  const seconds = (date.getTime() - Date.now()) / 1000;
  const steps = [
    [60, "second"],
    [3600, "minute"],
    [86400, "hour"],
    [86400 * 30, "day"],
    [86400 * 365, "month"],
  ];
  let unit = "year";
  let size = 86400 * 365;
  let previous = 1;
  for (const [limit, name] of steps) {
    if (Math.abs(seconds) < limit) {
      unit = name;
      size = previous;
      break;
    }
    previous = limit;
  }
  if (unit === "second" && Math.abs(seconds) < 10) return "just now";
  return relative.format(Math.round(seconds / size), unit);
}

/** "1.4 MB". */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined || Number.isNaN(Number(bytes))) return "";
  const value = Number(bytes);
  if (value < 1000) return `${value} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let scaled = value;
  let unit = -1;
  do {
    scaled /= 1000;
    unit += 1;
  } while (scaled >= 1000 && unit < units.length - 1);
  return `${scaled.toFixed(scaled < 10 ? 1 : 0)} ${units[unit]}`;
}

/** "45 s", "3 min 20 s", "2 h 05 min". */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return "";
  const total = Math.max(0, Math.round(Number(seconds)));
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes} min ${String(total % 60).padStart(2, "0")} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${String(minutes % 60).padStart(2, "0")} min`;
}

const integer = new Intl.NumberFormat();
/** "12,345". */
export const formatCount = (n) => (n === null || n === undefined ? "" : integer.format(n));

/** "1 photo", "3 photos". */
export const plural = (n, one, many = one + "s") => `${formatCount(n)} ${n === 1 ? one : many}`;

// ---------------------------------------------------------------- notices

function toastHost() {
  let host = document.getElementById("toasts");
  if (!host) {
    host = h("div", { id: "toasts", class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(host);
  }
  return host;
}

/** A short notice in the corner; kind: "info" | "success" | "error". */
export function toast(message, { kind = "info", timeout = 4000 } = {}) {
  const note = h(
    "div",
    { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : null },
    icon(kind === "error" ? "alert" : kind === "success" ? "check" : "image", 18),
    h("span", { class: "toast-text" }, message),
    h(
      "button",
      {
        type: "button",
        class: "toast-close",
        "aria-label": "Dismiss",
        onclick: () => note.remove(),
      },
      icon("x", 16),
    ),
  );
  toastHost().append(note);
  if (timeout) setTimeout(() => note.remove(), timeout);
  return note;
}

/** Show a message in an error box (an element with role="alert"); hide it with null. */
export function showError(box, error) {
  if (!box) return;
  if (!error) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.textContent = typeof error === "string" ? error : errorText(error);
  box.hidden = false;
}

/** Copy text, with a fallback for pages served over plain http (no Clipboard API there). */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall through to the old way
    }
  }
  const area = h("textarea", { class: "visually-hidden", readonly: true });
  area.value = text;
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  area.remove();
  return copied;
}

// ---------------------------------------------------------------- photos

const SOURCES = {
  exif: "from EXIF",
  "exif:DateTimeOriginal": "from EXIF",
  "exif:DateTimeDigitized": "EXIF date digitized",
  "exif:DateTime": "EXIF date last changed",
  "xmp:exif:DateTimeOriginal": "from XMP",
  "xmp:photoshop:DateCreated": "from XMP",
  "xmp:xmp:CreateDate": "XMP date created",
  "iptc:DateCreated": "from IPTC",
  file: "file modified time",
};

/** The photo's metadata as a <dl class="meta">: what the detail views show. */
export function photoMetadata(photo) {
  const p = photo.payload || {};
  const rows = [];
  const add = (label, ...value) => {
    const parts = value.flat().filter((v) => v !== null && v !== undefined && v !== "");
    if (parts.length) rows.push(h("div", { class: "meta-row" }, h("dt", {}, label), h("dd", {}, parts)));
  };
  const taken = photo.taken_at || p.taken_at;
  if (taken) {
    const source = p.taken_at_source;
    add(
      "Taken",
      h("time", { datetime: taken }, formatDate(taken, { time: true })),
      p.taken_at_offset ? ` (UTC${p.taken_at_offset})` : null,
      source ? h("span", { class: "muted" }, ` · ${SOURCES[source] || source}`) : null,
    );
  }
  add("Title", p.title || null);
  add("Caption", p.description || null);
  add("Keywords", Array.isArray(p.keywords) && p.keywords.length ? p.keywords.join(", ") : null);
  add("By", p.artist || null);
  add("Camera", photo.camera || null);
  add("Lens", p.lens || null);
  if (photo.width && photo.height) {
    const megapixels = (photo.width * photo.height) / 1e6;
    add(
      "Size",
      `${photo.width} × ${photo.height}`,
      h("span", { class: "muted" }, ` · ${megapixels.toFixed(megapixels < 10 ? 1 : 0)} MP`),
    );
  }
  add("Format", photo.format ? String(photo.format).toUpperCase() : null);
  add("File size", p.bytes ? formatBytes(p.bytes) : null);
  add("Place", photo.place || null);
  if (p.gps && Number.isFinite(p.gps.lat) && Number.isFinite(p.gps.lon)) {
    const lat = p.gps.lat.toFixed(5);
    const lon = p.gps.lon.toFixed(5);
    add(
      "Location",
      h(
        "a",
        {
          href: `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=15/${lat}/${lon}`,
          target: "_blank",
          rel: "noopener noreferrer",
          class: "inline-link",
        },
        icon("pin", 16),
        `${lat}, ${lon}`,
      ),
    );
  }
  add("Path", photo.path ? h("span", { class: "path" }, photo.path) : null);
  const paths = p.paths || [];
  if (paths.length > 1) {
    add(
      "Copies",
      h("ul", { class: "plain-list" }, paths.slice(1).map((x) => h("li", { class: "path" }, x))),
    );
  }
  add("Folder", p.folder ? h("span", { class: "path" }, p.folder) : null);
  add("Added", p.source === "upload" ? "uploaded" : p.source ? "library folder" : null);
  if (typeof photo.score === "number") add("Score", photo.score.toFixed(3));
  if (photo.matched?.length) add("Matched", photo.matched.join(", "));
  return h("dl", { class: "meta" }, rows);
}

/** The text a thumbnail's alt and title use. */
export function photoLabel(photo) {
  const name = photo.filename || (photo.path || "").split("/").pop() || "photo";
  const date = formatDate(photo.taken_at);
  return date ? `${name}, ${date}` : name;
}

/** The detail view's picture: the preview, over its grid thumbnail until it has loaded. */
export function previewImage(photo, label, props = {}) {
  const preview = h("img", {
    src: photo.preview_url,
    alt: label,
    class: "detail-image",
    width: photo.width || null,
    height: photo.height || null,
    decoding: "async",
    ...props,
  });
  preview.style.backgroundImage = `url("${photo.thumbnail_url}")`;
  preview.addEventListener("load", () => preview.classList.add("loaded"), { once: true });
  return preview;
}

/** A thumbnail URL for a photo id (for ids that come from the address, without a photo). */
export const thumbnailUrl = (id, size = "grid") =>
  `${API_PREFIX}/images/${encodeURIComponent(id)}/thumbnail?size=${size}`;

// ---------------------------------------------------------------- polling

/** Run task now and again `delay` ms after each run ends (a number, or a function asked after
 * each run); paused while the tab is hidden and run at once when it shows again, so a tab left
 * in the background asks the server nothing. Returns a function that runs the task now. */
export function every(delay, task) {
  let timer = null;
  let running = false;
  let again = false; // asked for while a run was under way: run once more right after it
  const wait = () => (typeof delay === "function" ? delay() : delay);
  const tick = async () => {
    clearTimeout(timer);
    timer = null;
    if (document.hidden) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await task();
    } finally {
      running = false;
      const next = again ? 0 : wait();
      again = false;
      if (!document.hidden && timer === null) timer = setTimeout(tick, next);
    }
  };
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) tick();
  });
  tick();
  return tick;
}

// ---------------------------------------------------------------- page-wide keys

/** Whether a key event comes from a place where typing means text. */
export function isTyping(event) {
  const target = event.target;
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  if (target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
  if (target.tagName !== "INPUT") return false;
  const kind = (target.getAttribute("type") || "text").toLowerCase();
  return !["checkbox", "radio", "button", "submit", "reset", "range", "file"].includes(kind);
}
