// The upload page: the files added at once go in one request (up to the server's limit of files
// per request), so they make one indexing job; each file's bar shows its share of the bytes
// sent. The job is then followed until the photos are searchable.
import { csrfToken, errorText, formatBytes, goToLogin, h, icon, plural, api } from "./common.js";

const POLL_MS = 1000;
const $ = (id) => document.getElementById(id);
const els = {
  dropzone: $("dropzone"),
  input: $("upload-input"),
  pick: $("upload-pick"),
  list: $("upload-list"),
  status: $("upload-status"),
  clear: $("upload-clear"),
};

const rows = []; // {file, el, bar, text, state, id, sha256, jobId}
const batches = []; // rows sent in one request: one indexing job
const jobs = new Map(); // job id -> rows it indexes
let sending = false;
let polling = false;
const limits = {
  files: Number(els.dropzone.dataset.maxFiles) || 500,
  bytes: Number(els.dropzone.dataset.maxBytes) || Infinity,
};
const FINAL = new Set(["done", "duplicate", "failed"]);

function addFiles(fileList) {
  const batch = [];
  for (const file of [...(fileList || [])]) {
    const row = makeRow(file);
    rows.push(row);
    els.list.append(row.el);
    if (file.size > limits.bytes) {
      setState(row, "failed", `Larger than this server takes (${formatBytes(limits.bytes)} a file).`);
    } else {
      batch.push(row);
    }
  }
  for (let i = 0; i < batch.length; i += limits.files) batches.push(batch.slice(i, i + limits.files));
  pump();
  summarize();
}

function makeRow(file) {
  const isImage = file.type.startsWith("image/");
  const bar = h("progress", { class: "upload-progress", max: String(file.size || 1), value: "0" });
  const text = h("span", { class: "upload-text" }, "waiting…");
  const preview = isImage
    ? h("img", {
        src: URL.createObjectURL(file),
        alt: "",
        class: "upload-thumb",
        width: 48,
        height: 48,
        onerror: (event) => event.target.classList.add("broken"),
      })
    : h("span", { class: "upload-thumb upload-thumb-blank" }, icon("image", 22));
  const el = h(
    "li",
    { class: "upload-file", dataset: { name: file.name, state: "uploading" } },
    preview,
    h(
      "div",
      { class: "upload-main" },
      h(
        "div",
        { class: "upload-line" },
        h("span", { class: "upload-name", title: file.name }, file.name),
        h("span", { class: "upload-size muted" }, formatBytes(file.size)),
      ),
      bar,
      h("div", { class: "upload-line" }, text),
    ),
  );
  bar.setAttribute("aria-label", `Upload of ${file.name}`);
  return { file, el, bar, text, state: "uploading", id: null, sha256: null, jobId: null };
}

function setState(row, state, ...message) {
  row.state = state;
  row.el.dataset.state = state;
  row.text.replaceChildren(...message);
  if (state === "queued" || state === "indexing") row.bar.removeAttribute("value"); // busy
  if (FINAL.has(state)) {
    row.bar.max = 1;
    row.bar.value = 1;
  }
  summarize();
}

function pump() {
  if (sending || !batches.length) return;
  sending = true;
  send(batches.shift());
}

function send(batch) {
  for (const row of batch) setState(row, "uploading", "waiting…");
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/v1/uploads");
  xhr.setRequestHeader("X-CSRF-Token", csrfToken());
  xhr.setRequestHeader("Accept", "application/json");
  xhr.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) spreadProgress(batch, event.loaded, event.total);
  });
  const failAll = (message) => {
    for (const row of batch) setState(row, "failed", message);
  };
  const finish = () => {
    sending = false;
    pump();
  };
  xhr.addEventListener("load", () => {
    finish();
    received(batch, xhr);
  });
  xhr.addEventListener("error", () => {
    finish();
    failAll("The upload did not reach the server (network error).");
  });
  xhr.addEventListener("abort", () => {
    finish();
    failAll("The upload was cancelled.");
  });
  const form = new FormData();
  for (const row of batch) form.append("files", row.file, row.file.name);
  // when each was last changed: the date of a photo that has no capture date (the server's field)
  for (const row of batch) {
    form.append("modified", String(Math.max(0, Math.round(row.file.lastModified || 0))));
  }
  xhr.send(form);
}

// The files go in order: the bytes sent so far (less the form's framing, spread evenly) fill
// the first files' bars, then the next one's.
function spreadProgress(batch, loaded, total) {
  const sizes = batch.map((row) => row.file.size);
  const sum = sizes.reduce((a, b) => a + b, 0);
  const sent = total ? (loaded * sum) / total : 0;
  let start = 0;
  batch.forEach((row, i) => {
    const part = Math.min(Math.max(sent - start, 0), sizes[i]);
    start += sizes[i];
    row.bar.max = sizes[i] || 1;
    row.bar.value = part;
    const percent = Math.floor((part / (sizes[i] || 1)) * 100);
    row.text.textContent = percent >= 100 ? "sent" : part > 0 ? `uploading… ${percent} %` : "waiting…";
  });
}

function parse(xhr) {
  try {
    return JSON.parse(xhr.responseText);
  } catch {
    return null;
  }
}

function photoLink(id, text) {
  return h("a", { href: `/photos/${encodeURIComponent(id)}`, class: "inline-link" }, text);
}

function received(batch, xhr) {
  const body = parse(xhr);
  if (xhr.status === 401) {
    for (const row of batch) setState(row, "failed", "Your session has ended: log in again.");
    goToLogin();
    return;
  }
  if (xhr.status < 200 || xhr.status >= 300) {
    const message = body?.error?.message || `${xhr.status} ${xhr.statusText || "error"}`;
    const details = body?.error?.details || [];
    for (const row of batch) setState(row, "failed", errorText({ message, details }));
    return;
  }
  batch.forEach((row, i) => receivedFile(row, body?.files?.[i], body?.job));
}

function receivedFile(row, outcome, job) {
  if (!outcome) {
    setState(row, "failed", "The server's answer named no file.");
    return;
  }
  row.id = outcome.id;
  row.sha256 = outcome.sha256;
  if (outcome.status === "duplicate") {
    setState(
      row,
      "duplicate",
      "already in the library",
      outcome.duplicate_of ? h("span", { class: "path muted" }, ` · ${outcome.duplicate_of}`) : null,
      outcome.id ? " · " : null,
      outcome.id ? photoLink(outcome.id, "view") : null,
    );
  } else if (outcome.status === "failed") {
    setState(row, "failed", outcome.reason || "The server refused this file.");
  } else {
    setState(row, "queued", "indexing…");
    if (job?.id) {
      row.jobId = job.id;
      if (!jobs.has(job.id)) jobs.set(job.id, []);
      jobs.get(job.id).push(row);
      follow();
    } else {
      setState(row, "done", "stored · ", photoLink(outcome.id, "view"));
    }
  }
}

function follow() {
  if (polling) return;
  polling = true;
  setTimeout(poll, POLL_MS);
}

async function poll() {
  const open = [...jobs.keys()];
  await Promise.all(
    open.map(async (jobId) => {
      let job;
      try {
        job = await api(`/jobs/${encodeURIComponent(jobId)}`);
      } catch (error) {
        if (error.status === 404) {
          for (const row of jobs.get(jobId) || []) setState(row, "failed", "Its indexing job is gone.");
          jobs.delete(jobId);
        }
        return; // other errors: try again at the next tick
      }
      jobUpdate(jobId, job);
    }),
  );
  if (jobs.size) setTimeout(poll, POLL_MS);
  else polling = false;
}

function jobUpdate(jobId, job) {
  const waitingRows = jobs.get(jobId) || [];
  if (job.state === "queued" || job.state === "running") {
    for (const row of waitingRows) {
      if (job.state === "running" && row.state !== "indexing") setState(row, "indexing", "indexing…");
    }
    return;
  }
  jobs.delete(jobId);
  const failures = job.failures || [];
  for (const row of waitingRows) {
    // a failed file is named by its stored path, which holds its content hash
    const failure = failures.find((f) => row.sha256 && f.path.includes(row.sha256));
    if (job.state === "done" && !failure) {
      setState(row, "done", "searchable now · ", photoLink(row.id, "view"));
    } else if (job.state === "done") {
      setState(row, "failed", `indexing failed: ${failure.reason}`);
    } else if (job.state === "cancelled") {
      setState(row, "failed", "indexing was cancelled (the file is stored: a rescan indexes it)");
    } else {
      setState(row, "failed", `indexing failed: ${job.error || "no reason given"}`);
    }
  }
}

function summarize() {
  const count = (...states) => rows.filter((row) => states.includes(row.state)).length;
  const total = rows.length;
  els.clear.hidden = count(...FINAL) === 0;
  if (!total) {
    els.status.textContent = "";
    return;
  }
  const uploading = count("uploading");
  const indexing = count("queued", "indexing");
  const uploaded = count("queued", "indexing", "done");
  const duplicates = count("duplicate");
  const failed = count("failed");
  const counts = `${uploaded} uploaded, ${plural(duplicates, "duplicate")}, ${failed} failed`;
  if (uploading) {
    els.status.textContent = `Uploading: ${total - uploading} of ${total} sent… ${counts}`;
  } else if (indexing) {
    els.status.textContent = `${counts} — indexing ${indexing}…`;
  } else if (failed === total) {
    els.status.textContent = `${counts} — nothing new is searchable`;
  } else {
    els.status.textContent = `${counts} — ${failed ? "the others are" : "all"} searchable`;
  }
  els.status.dataset.state = uploading ? "uploading" : indexing ? "indexing" : "done";
}

els.pick.addEventListener("click", (event) => {
  event.stopPropagation();
  els.input.click();
});
els.dropzone.addEventListener("click", (event) => {
  if (event.target === els.dropzone || event.target.closest("p, svg")) els.input.click();
});
els.input.addEventListener("change", () => {
  addFiles(els.input.files);
  els.input.value = "";
});
els.clear.addEventListener("click", () => {
  for (let i = rows.length - 1; i >= 0; i -= 1) {
    if (FINAL.has(rows[i].state)) {
      rows[i].el.remove();
      rows.splice(i, 1);
    }
  }
  summarize();
  els.pick.focus();
});

// Files dropped anywhere on the page go in; the drop zone lights up meanwhile.
let depth = 0;
const hasFiles = (event) => Boolean(event.dataTransfer) && [...event.dataTransfer.types].includes("Files");
document.addEventListener("dragenter", (event) => {
  if (!hasFiles(event)) return;
  depth += 1;
  els.dropzone.classList.add("dragging");
});
document.addEventListener("dragleave", (event) => {
  if (!hasFiles(event)) return;
  depth = Math.max(0, depth - 1);
  if (!depth) els.dropzone.classList.remove("dragging");
});
document.addEventListener("dragover", (event) => {
  if (!hasFiles(event)) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "copy";
});
document.addEventListener("drop", (event) => {
  if (!hasFiles(event)) return;
  event.preventDefault();
  depth = 0;
  els.dropzone.classList.remove("dragging");
  addFiles(event.dataTransfer.files);
});
document.addEventListener("paste", (event) => {
  const files = [...(event.clipboardData?.files || [])];
  if (!files.length) return;
  event.preventDefault();
  addFiles(files);
});
