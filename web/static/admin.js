// The admin page: index actions, status (every 2 s), jobs with progress (every second), tokens.
import {
  api,
  copyText,
  errorText,
  every,
  formatAgo,
  formatCount,
  formatDate,
  formatDuration,
  formatWhen,
  h,
  plural,
  showError,
  toast,
} from "./common.js";

const STATUS_MS = 2000;
const JOBS_MS = 1000;
const JOBS_SHOWN = 30;
const FINISHED = new Set(["done", "failed", "cancelled"]);
const $ = (id) => document.getElementById(id);
const els = {
  error: $("admin-error"),
  status: $("status"),
  jobs: $("jobs"),
  tokens: $("tokens"),
  tokenForm: $("token-form"),
  tokenName: $("token-name"),
  tokenRole: $("token-role"),
  tokenSubmit: $("token-submit"),
  tokenCreated: $("token-created"),
  tokenCreatedTitle: $("token-created-title"),
  tokenValue: $("token-value"),
  tokenCopy: $("token-copy"),
  tokenDismiss: $("token-dismiss"),
  modelForm: $("model-form"),
  modelSpec: $("model-spec"),
  modelSwitch: $("model-switch"),
  backupNow: $("backup-now"),
  backups: $("backups"),
  backupsNote: $("backups-note"),
};

// ---------------------------------------------------------------- actions

async function act(button, path, body, started) {
  showError(els.error, null);
  button.disabled = true;
  try {
    const answer = await api(path, { method: "POST", body });
    toast(started, { kind: "success" });
    if (answer?.job) showJobs([answer.job], { partial: true });
    refreshJobs();
  } catch (error) {
    showError(els.error, error);
  } finally {
    button.disabled = false;
  }
}

els.backupNow.addEventListener("click", (event) =>
  act(event.currentTarget, "/admin/backups", {}, "Backup started: it appears below when complete."),
);
$("rescan").addEventListener("click", (event) =>
  act(event.currentTarget, "/admin/rescan", {}, "Rescan started."),
);
$("reindex-missing").addEventListener("click", (event) =>
  act(event.currentTarget, "/admin/reindex", { scope: "missing" }, "Indexing of missing photos started."),
);
$("reindex-all").addEventListener("click", (event) => {
  const button = event.currentTarget;
  const sure = window.confirm(
    "Reindex every photo? Search keeps working meanwhile, but this takes a while on a large library.",
  );
  if (sure) act(button, "/admin/reindex", { scope: "all" }, "Reindex of all photos started.");
});
els.modelForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const model = els.modelSpec.value.trim();
  if (!model) {
    els.modelSpec.focus();
    return;
  }
  await act(
    els.modelSwitch,
    "/admin/model",
    { model },
    `Switching to ${model}: search keeps using the current model until the new one covers every photo.`,
  );
  refreshStatus();
});

// ---------------------------------------------------------------- status

function stat(label, value, note) {
  return h(
    "div",
    { class: "stat" },
    h("dt", {}, label),
    h("dd", {}, h("span", { class: "stat-value" }, value), note ? h("span", { class: "stat-note" }, note) : null),
  );
}

/** The active model, and where a switch stands. */
function modelText(s) {
  const active = h("code", {}, s.model || "—");
  const change = s.model_switch;
  if (!change) return active;
  if (change.target) return h("span", {}, active, " → switching to ", h("code", {}, change.target));
  return h("span", {}, active, " (dropping the vectors of ", h("code", {}, change.retired), ")");
}

function badge(text, kind) {
  return h("span", { class: `badge badge-${kind}` }, text);
}

// The precision in use and its check on this library's photos (see `pixseek stats`).
function precisionText(precision) {
  if (!precision) return "—";
  const check = precision.check;
  if (!check) return precision.setting === "auto" ? "auto: not checked yet" : precision.setting;
  const chosen = Object.entries(check.chosen).map(([tower, label]) => `${tower} ${label}`).join(", ");
  return `${precision.setting}: ${chosen} (${check.summary})`;
}

async function refreshStatus() {
  let status;
  try {
    status = await api("/admin/status");
  } catch (error) {
    els.status.setAttribute("aria-busy", "false");
    els.status.replaceChildren(h("p", { class: "error-text" }, `Status unavailable: ${errorText(error)}`));
    return;
  }
  const s = status.stats || {};
  const workers = status.workers || [];
  const roots = status.roots || [];
  const online = workers.filter((w) => w.state === "online").length;
  els.status.setAttribute("aria-busy", "false");
  els.status.replaceChildren(
    h(
      "dl",
      { class: "stats" },
      stat("Photos", formatCount(s.points ?? 0), "in the index"),
      stat("Files indexed", formatCount(s.files_indexed ?? 0)),
      stat("Failed", formatCount(s.files_failed ?? 0), s.files_failed ? "listed with their jobs below" : null),
      stat("Files queued", formatCount(s.files_queued ?? 0)),
      stat("Queue pending", formatCount(status.queue?.pending ?? 0)),
      stat("Mode", status.mode || "—", s.backend || null),
    ),
    h(
      "dl",
      { class: "meta meta-compact" },
      h("div", { class: "meta-row" }, h("dt", {}, "Model"), h("dd", { id: "active-model" }, modelText(s))),
      h("div", { class: "meta-row" }, h("dt", {}, "Precision"), h("dd", { id: "precision" }, precisionText(status.precision))),
      h(
        "div",
        { class: "meta-row" },
        h("dt", {}, "Workers"),
        h(
          "dd",
          {},
          workers.length
            ? h(
                "ul",
                { class: "badges", "aria-label": `${online} of ${workers.length} online` },
                workers.map((w) =>
                  h(
                    "li",
                    { class: "worker", dataset: { state: w.state } },
                    badge(w.state, w.state === "online" ? "ok" : "off"),
                    " ",
                    h("span", { class: "worker-name" }, w.name),
                  ),
                ),
              )
            : h("span", { class: "muted" }, status.mode === "server" ? "no worker answers" : "none"),
        ),
      ),
      h(
        "div",
        { class: "meta-row" },
        h("dt", {}, "Library folders"),
        h(
          "dd",
          {},
          roots.length
            ? h("ul", { class: "plain-list" }, roots.map((root) => h("li", { class: "path" }, root)))
            : h("span", { class: "muted" }, "none yet"),
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------- jobs

const KINDS = {
  index: "Index",
  reindex: "Reindex",
  upload: "Upload",
  delete: "Delete",
  scan: "Scan",
  "model-switch": "Model switch",
  backup: "Backup",
  eval: "Eval",
  ocr: "Text in photos (OCR)",
};
const jobElements = new Map(); // job id -> {el, parts}

function jobTitle(job) {
  const detail = job.detail || {};
  const kind = KINDS[job.kind] || job.kind;
  if (job.kind === "reindex" && detail.scope) return `${kind} ${detail.scope}`;
  if (job.kind === "model-switch" && detail.to) return `${kind} to ${detail.to}`;
  if (job.kind === "eval" && detail.copies) return `${kind} on ${plural(detail.copies, "photo")}`;
  if (job.kind === "upload" && Array.isArray(detail.paths)) return `${kind} of ${plural(detail.paths.length, "file")}`;
  if (detail.retry_of && Array.isArray(detail.paths)) return `Retry of ${plural(detail.paths.length, "failed file")}`;
  if (Array.isArray(detail.paths) && detail.paths.length === 1) return `${kind} ${detail.paths[0]}`;
  if (Array.isArray(detail.paths)) return `${kind} of ${plural(detail.paths.length, "folder")}`;
  return kind;
}

function makeJob(job) {
  const parts = {
    title: h("span", { class: "job-kind" }),
    state: h("span", { class: "badge job-state" }),
    created: h("time", { class: "job-created muted" }),
    cancel: h("button", { type: "button", class: "btn btn-small", "data-action": "cancel" }, "Cancel"),
    bar: h("progress", { class: "job-progress" }),
    count: h("span", { class: "job-count" }),
    percent: h("span", { class: "job-percent" }),
    rate: h("span", { class: "job-rate" }),
    eta: h("span", { class: "job-eta" }),
    error: h("p", { class: "job-error error-text", hidden: true }),
    failures: makeFailures(job.id),
    skipped: makeSkipped(),
  };
  parts.cancel.addEventListener("click", () => cancelJob(job.id, parts.cancel));
  parts.bar.setAttribute("aria-label", "Progress");
  const el = h(
    "li",
    { class: "job", dataset: { jobId: job.id } },
    h("div", { class: "job-head" }, parts.title, parts.state, parts.created, h("span", { class: "spacer" }), parts.cancel),
    parts.bar,
    h(
      "div",
      { class: "job-stats" },
      h("span", {}, parts.count, " (", parts.percent, ")"),
      parts.rate,
      parts.eta,
    ),
    parts.error,
    parts.failures.el,
    parts.skipped.el,
  );
  return { el, parts };
}

function updateJob(entry, job) {
  const { el, parts } = entry;
  const finished = FINISHED.has(job.state);
  if (job.kind === "backup" && finished && entry.state && !FINISHED.has(entry.state)) loadBackups();
  entry.state = job.state;
  const total = Number(job.total) || 0;
  const processed = (Number(job.done) || 0) + (Number(job.failed) || 0);
  el.dataset.state = job.state;
  parts.title.textContent = jobTitle(job);
  parts.state.textContent = job.cancel_requested && !finished ? "cancelling" : job.state;
  parts.state.className = `badge job-state badge-${job.state}`;
  parts.created.dateTime = new Date(job.created_at * 1000).toISOString();
  parts.created.textContent = formatWhen(job.created_at);
  parts.created.title = `${formatDate(job.created_at, { time: true })} (${formatAgo(job.created_at)})`;

  if (total > 0) {
    parts.bar.setAttribute("max", String(total));
    parts.bar.value = Math.min(processed, total);
  } else if (finished) {
    parts.bar.setAttribute("max", "1");
    parts.bar.value = 1;
  } else {
    parts.bar.removeAttribute("value"); // still counting its files
    parts.bar.removeAttribute("max");
  }
  const percent = total > 0 ? Math.floor((processed / total) * 100) : finished ? 100 : 0;
  parts.count.textContent = `${formatCount(processed)}/${formatCount(total)}`;
  parts.percent.textContent = `${percent} %`;
  parts.bar.setAttribute("aria-valuetext", `${processed} of ${total} (${percent} %)`);

  const rate = Number(job.images_per_second) || 0;
  const counts = !["backup", "eval"].includes(job.kind); // steps, not images
  parts.rate.textContent = rate && counts ? `${rate.toFixed(rate < 10 ? 1 : 0)} images/s` : "";
  if (finished && job.started_at && job.finished_at) {
    parts.eta.textContent = `took ${formatDuration(job.finished_at - job.started_at)}`;
  } else if (!finished && job.eta_seconds !== null && job.eta_seconds !== undefined) {
    parts.eta.textContent = `ETA ${formatDuration(job.eta_seconds)}`;
  } else if (!finished && job.state === "running") {
    parts.eta.textContent = "ETA —";
  } else {
    parts.eta.textContent = job.state === "queued" ? "waiting for a worker" : "";
  }

  parts.cancel.hidden = finished;
  parts.cancel.disabled = Boolean(job.cancel_requested);
  parts.cancel.textContent = job.cancel_requested ? "Cancelling…" : "Cancel";
  parts.cancel.setAttribute("aria-label", `Cancel job ${jobTitle(job)}`);

  parts.error.hidden = !job.error;
  parts.error.textContent = job.error || "";

  updateFailures(parts.failures, job);
  updateSkipped(parts.skipped, job);
}

// ---------------------------------------------------------------- files a scan passed over
// The job's detail lists them (the first 200) with why, as `pixseek index` does.
function makeSkipped() {
  const view = {
    el: h("details", { class: "job-skipped", hidden: true }),
    summary: h("summary", {}),
    list: h("ul", { class: "plain-list failure-list", tabindex: "0", "aria-label": "Skipped files" }),
    shown: -1,
  };
  view.el.append(view.summary, view.list);
  return view;
}

function updateSkipped(view, job) {
  const skipped = Number(job.skipped) || 0;
  const files = Array.isArray(job.detail?.skipped_files) ? job.detail.skipped_files : [];
  view.el.hidden = skipped === 0;
  view.summary.textContent = `${plural(skipped, "file")} skipped for their type`;
  if (view.shown === files.length) return;
  view.shown = files.length;
  const items = files.map((f) =>
    h("li", {}, h("span", { class: "path" }, f.path), h("span", { class: "muted" }, " — "), f.reason),
  );
  if (skipped > files.length) items.push(h("li", { class: "muted" }, `and ${formatCount(skipped - files.length)} more`));
  view.list.replaceChildren(...items);
}

// ---------------------------------------------------------------- a job's failed files
// Asked for when the job's "N failures" is opened, a page at a time, with Retry and a CSV.

const FAILURES_PAGE = 20;

function makeFailures(jobId) {
  const button = (action, text, label) =>
    h("button", { type: "button", class: "btn btn-small", "data-action": action, "aria-label": label }, text);
  const view = {
    el: h("details", { class: "job-failures", hidden: true }),
    summary: h("summary", {}),
    // it scrolls: a tab stop, so a keyboard can scroll it too
    list: h("ul", { class: "plain-list failure-list", tabindex: "0", "aria-label": "Failed files" }),
    range: h("span", { class: "muted failure-range", "aria-live": "polite" }),
    previous: button("failures-previous", "Previous", "Previous failed files"),
    next: button("failures-next", "Next", "Next failed files"),
    retry: button("retry", "Retry", "Retry the failed files"),
    csv: h("a", { class: "btn btn-small", href: `/api/v1/jobs/${encodeURIComponent(jobId)}/failures.csv`, download: "" }, "CSV"),
    offset: 0,
    total: -1,
  };
  view.csv.setAttribute("aria-label", "Download the failed files as CSV");
  const tools = h("div", { class: "failure-tools" }, view.previous, view.range, view.next, view.retry, view.csv);
  view.el.append(view.summary, view.list, tools);
  view.el.addEventListener("toggle", () => view.el.open && loadFailures(jobId, view));
  view.previous.addEventListener("click", () => {
    view.offset = Math.max(0, view.offset - FAILURES_PAGE);
    loadFailures(jobId, view);
  });
  view.next.addEventListener("click", () => {
    view.offset += FAILURES_PAGE;
    loadFailures(jobId, view);
  });
  view.retry.addEventListener("click", () => retryFailures(jobId, view.retry));
  return view;
}

function updateFailures(view, job) {
  const failed = Number(job.failed) || 0;
  view.el.hidden = failed === 0;
  view.summary.textContent = plural(failed, "failure");
  view.retry.hidden = !FINISHED.has(job.state);
  if (view.el.open && view.total !== failed) {
    view.total = failed; // more failed while it was open: show them
    loadFailures(job.id, view);
  }
}

async function loadFailures(jobId, view) {
  const query = `offset=${view.offset}&limit=${FAILURES_PAGE}`;
  try {
    const page = await api(`/jobs/${encodeURIComponent(jobId)}/failures?${query}`);
    view.total = page.total;
    view.list.replaceChildren(
      ...page.failures.map((f) =>
        h("li", {}, h("span", { class: "path" }, f.path), h("span", { class: "muted" }, " — "), f.reason),
      ),
    );
    const last = page.offset + page.failures.length;
    const beyond = page.total > page.kept ? ` (${formatCount(page.total)} failed; the first ${formatCount(page.kept)} are kept)` : "";
    view.range.textContent = page.failures.length ? `${page.offset + 1}–${last} of ${formatCount(page.kept)}${beyond}` : "";
    view.previous.disabled = page.offset === 0;
    view.next.disabled = last >= page.kept;
  } catch (error) {
    view.list.replaceChildren(h("li", { class: "error-text" }, `Failed files unavailable: ${errorText(error)}`));
  }
}

async function retryFailures(jobId, button) {
  showError(els.error, null);
  button.disabled = true;
  try {
    const answer = await api(`/jobs/${encodeURIComponent(jobId)}/retry`, { method: "POST", body: {} });
    toast(`Retrying ${plural(answer.job.detail.paths.length, "file")}`);
    await loadJobs();
  } catch (error) {
    showError(els.error, error);
  } finally {
    button.disabled = false;
  }
}

/** Show these jobs (newest first). partial: only add or update, keep the others. */
function showJobs(jobs, { partial = false } = {}) {
  els.jobs.setAttribute("aria-busy", "false");
  for (const placeholder of els.jobs.querySelectorAll(":scope > .empty")) placeholder.remove();
  const wanted = new Set(jobs.map((job) => job.id));
  if (!partial) {
    for (const [id, entry] of jobElements) {
      if (!wanted.has(id)) {
        entry.el.remove();
        jobElements.delete(id);
      }
    }
  }
  let previous = null;
  for (const job of jobs) {
    let entry = jobElements.get(job.id);
    if (!entry) {
      entry = makeJob(job);
      jobElements.set(job.id, entry);
    }
    updateJob(entry, job);
    // Keep the list in order without moving what is already in place (focus stays put).
    const wantedNext = previous ? previous.nextSibling : els.jobs.firstChild;
    if (partial && entry.el.isConnected) {
      previous = entry.el;
      continue;
    }
    if (wantedNext !== entry.el) els.jobs.insertBefore(entry.el, wantedNext);
    previous = entry.el;
  }
  if (!jobElements.size) els.jobs.replaceChildren(h("li", { class: "muted empty" }, "No jobs yet."));
}

async function loadJobs() {
  try {
    const answer = await api(`/jobs?limit=${JOBS_SHOWN}`);
    showJobs(answer.jobs || []);
  } catch (error) {
    if (!jobElements.size) {
      els.jobs.replaceChildren(h("li", { class: "error-text empty" }, `Jobs unavailable: ${errorText(error)}`));
    }
  }
}

async function cancelJob(id, button) {
  showError(els.error, null);
  button.disabled = true;
  try {
    const job = await api(`/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST" });
    showJobs([job], { partial: true });
  } catch (error) {
    showError(els.error, error);
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- backups

function formatBytes(bytes) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = Number(bytes) || 0;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(unit && value < 10 ? 1 : 0)} ${units[unit]}`;
}

async function loadBackups() {
  let answer;
  try {
    answer = await api("/admin/backups");
  } catch (error) {
    els.backups.replaceChildren(h("p", { class: "error-text" }, `Backups unavailable: ${errorText(error)}`));
    return;
  }
  els.backups.setAttribute("aria-busy", "false");
  els.backupsNote.replaceChildren(
    "The catalog, users, uploaded photos and the index, copied into a new folder in ",
    h("code", {}, answer.directory),
    ` (a job above; the newest ${answer.keep} are kept). Restore one with `,
    h("code", {}, "pixseek restore FOLDER"),
    ".",
  );
  const backups = answer.backups || [];
  if (!backups.length) {
    els.backups.replaceChildren(h("p", { class: "muted" }, "No backups yet."));
    return;
  }
  els.backups.replaceChildren(
    h(
      "table",
      { class: "table" },
      h("caption", { class: "visually-hidden" }, "Backups"),
      h("thead", {}, h("tr", {}, ["Folder", "Made", "Photos", "Size", "Model"].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        backups.map((backup) => {
          const made = Date.parse(backup.created_at) / 1000;
          return h(
            "tr",
            { class: "backup", dataset: { name: backup.name } },
            h("td", { class: "path", title: backup.path }, backup.name),
            h("td", { title: formatDate(made, { time: true }) }, formatAgo(made)),
            h("td", {}, formatCount(backup.photos)),
            h("td", {}, formatBytes(backup.bytes)),
            h("td", {}, h("code", {}, backup.model)),
          );
        }),
      ),
    ),
  );
}

// ---------------------------------------------------------------- tokens

async function loadTokens() {
  let tokens;
  try {
    tokens = (await api("/tokens")).tokens || [];
  } catch (error) {
    els.tokens.replaceChildren(h("p", { class: "error-text" }, `Tokens unavailable: ${errorText(error)}`));
    return;
  }
  els.tokens.setAttribute("aria-busy", "false");
  if (!tokens.length) {
    els.tokens.replaceChildren(h("p", { class: "muted" }, "No API tokens yet."));
    return;
  }
  els.tokens.replaceChildren(
    h(
      "table",
      { class: "table" },
      h("caption", { class: "visually-hidden" }, "API tokens"),
      h(
        "thead",
        {},
        h("tr", {}, ["Name", "Role", "Created", "Last used"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions"))),
      ),
      h(
        "tbody",
        {},
        tokens.map((token) =>
          h(
            "tr",
            { class: "token", dataset: { tokenId: token.id } },
            h("td", {}, token.name),
            h("td", {}, badge(token.role, token.role === "admin" ? "warn" : "neutral")),
            h("td", { title: formatDate(token.created_at, { time: true }) }, formatAgo(token.created_at)),
            h(
              "td",
              { title: token.last_used_at ? formatDate(token.last_used_at, { time: true }) : null },
              token.last_used_at ? formatAgo(token.last_used_at) : h("span", { class: "muted" }, "never"),
            ),
            h(
              "td",
              { class: "cell-actions" },
              h(
                "button",
                {
                  type: "button",
                  class: "btn btn-small btn-danger-ghost",
                  "data-action": "delete",
                  "aria-label": `Delete token ${token.name}`,
                  onclick: (event) => deleteToken(token, event.currentTarget),
                },
                "Delete",
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

// The Users card (admin-users.js) lists each user's tokens too: each side tells the other.
const TOKENS_CHANGED = "pixseek:tokens-changed";
const tokensChanged = () => document.dispatchEvent(new CustomEvent(TOKENS_CHANGED, { detail: { from: "tokens" } }));
document.addEventListener(TOKENS_CHANGED, (event) => {
  if (event.detail?.from !== "tokens" && els.tokenForm) loadTokens();
});

async function deleteToken(token, button) {
  showError(els.error, null);
  button.disabled = true;
  try {
    await api(`/tokens/${encodeURIComponent(token.id)}`, { method: "DELETE" });
    toast(`Token “${token.name}” deleted: scripts using it are refused from now on.`, { kind: "success" });
    await loadTokens();
    tokensChanged();
    els.tokenName.focus();
  } catch (error) {
    showError(els.error, error);
    button.disabled = false;
  }
}

els.tokenForm?.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(els.error, null);
  const name = els.tokenName.value.trim();
  if (!name) {
    els.tokenName.focus();
    return;
  }
  els.tokenSubmit.disabled = true;
  try {
    const made = await api("/tokens", { method: "POST", body: { name, role: els.tokenRole.value } });
    els.tokenCreatedTitle.textContent = `Token “${made.name}” of ${made.user} (${made.role})`;
    els.tokenValue.textContent = made.token;
    els.tokenCreated.hidden = false;
    els.tokenName.value = "";
    els.tokenCopy.focus();
    await loadTokens();
    tokensChanged();
  } catch (error) {
    showError(els.error, error);
  } finally {
    els.tokenSubmit.disabled = false;
  }
});

els.tokenCopy?.addEventListener("click", async () => {
  const copied = await copyText(els.tokenValue.textContent);
  if (copied) {
    els.tokenCopy.textContent = "Copied";
    setTimeout(() => (els.tokenCopy.textContent = "Copy"), 2000);
  } else {
    const range = document.createRange();
    range.selectNodeContents(els.tokenValue);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    toast("Copying is blocked here: the token is selected, press Ctrl+C.");
  }
});
els.tokenDismiss?.addEventListener("click", () => {
  els.tokenCreated.hidden = true;
  els.tokenValue.textContent = "";
  els.tokenName.focus();
});

// ---------------------------------------------------------------- start

every(STATUS_MS, refreshStatus);
const refreshJobs = every(JOBS_MS, loadJobs);
if (els.tokenForm) loadTokens();  // absent where login is off
loadBackups();
