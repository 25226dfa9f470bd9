// The admin page's Quality panel: start an eval (a copy set of the library's photos), watch
// its job, then the last report's table (a row per configuration) and its Recall@K curves.
import { api, errorText, every, formatAgo, formatDate, h, plural, showError, toast } from "./common.js";

const RUNNING_MS = 1500; // while an eval runs
const IDLE_MS = 10000; // otherwise (another admin may start one)
const FINISHED = new Set(["done", "failed", "cancelled"]);
const METRICS = ["R@1", "R@10", "mAP", "MRR", "nDCG@10"];
const $ = (id) => document.getElementById(id);
const els = {
  error: $("admin-error"),
  form: $("eval-form"),
  copies: $("eval-copies"),
  distractors: $("eval-distractors"),
  seed: $("eval-seed"),
  ef: $("eval-ef"),
  int8: $("eval-int8"),
  rerank: $("eval-rerank"),
  start: $("eval-start"),
  progress: $("eval-progress"),
  bar: $("eval-bar"),
  step: $("eval-step"),
  report: $("eval-report"),
};
let evalRunning = false; // an eval job is under way: look more often
let shownReportAt = undefined;

/** The form as POST /api/v1/eval takes it; a value the server refuses, it names. */
function evalBody() {
  const checked = (name) =>
    [...els.form.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);
  return {
    copies: Number(els.copies.value),
    distractors: Number(els.distractors.value),
    seed: Number(els.seed.value),
    ef: els.ef.value.split(/[\s,]+/).filter(Boolean).map((part) => (/^\d+$/.test(part) ? Number(part) : part)),
    quantizations: ["none", ...checked("quantization")],
    precisions: els.int8.checked ? ["fp32", "int8"] : ["fp32"],
    rerank: els.rerank.checked,
  };
}

els.form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(els.error, null);
  els.start.disabled = true;
  try {
    const answer = await api("/eval", { method: "POST", body: evalBody() });
    toast(`Eval started on ${plural(answer.job.detail.copies, "photo")}: its job is listed above.`, { kind: "success" });
    await refresh();
  } catch (error) {
    showError(els.error, error);
    els.start.disabled = false;
  }
});

function showJob(job, step) {
  const running = Boolean(job) && !FINISHED.has(job.state);
  els.start.disabled = running;
  els.progress.hidden = !running;
  if (!running) return;
  if (job.total > 0) {
    els.bar.max = job.total;
    els.bar.value = job.done;
  } else {
    els.bar.removeAttribute("value");
  }
  const counted = job.total ? `${job.done} of ${plural(job.total, "configuration")} measured` : "starting";
  els.step.textContent = `${job.cancel_requested ? "Cancelling" : counted}${step ? ` — ${step}` : ""}`;
}

const figure = (value, digits = 3) => (typeof value === "number" ? value.toFixed(digits) : "—");

function reportTable(report) {
  return h(
    "table",
    { class: "table eval-table" },
    h("caption", { class: "visually-hidden" }, "Retrieval quality per configuration"),
    h("thead", {}, h("tr", {}, ["Configuration", ...METRICS, "p50 ms", "p99 ms"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      report.configurations.map((outcome) =>
        h(
          "tr",
          { class: "eval-row" },
          h("th", { scope: "row", class: "eval-label" }, outcome.configuration.label),
          METRICS.map((metric) => h("td", { class: "num" }, figure(outcome.overall[metric]))),
          h("td", { class: "num" }, figure(outcome.latency_ms.p50, 1)),
          h("td", { class: "num" }, figure(outcome.latency_ms.p99, 1)),
        ),
      ),
    ),
  );
}

function showReport(answer) {
  els.report.setAttribute("aria-busy", "false");
  const failed = answer.job && ["failed", "cancelled"].includes(answer.job.state);
  const note = failed
    ? h("p", { class: answer.job.state === "failed" ? "error-text" : "muted" }, `The last eval ${answer.job.state}${answer.job.error ? `: ${answer.job.error}` : "."}`)
    : null;
  if (answer.report_at === shownReportAt && els.report.dataset.note === String(note?.textContent ?? "")) return;
  shownReportAt = answer.report_at;
  els.report.dataset.note = String(note?.textContent ?? "");
  const report = answer.report;
  if (!report) {
    els.report.replaceChildren(note || h("p", { class: "muted" }, "No eval has run yet."));
    return;
  }
  const made = answer.report_at;
  els.report.replaceChildren(
    ...(note ? [note] : []),
    h(
      "p",
      { class: "eval-summary" },
      `${report.name}: ${plural(report.queries, "query", "queries")} among ${plural(report.corpus, "picture")}, `,
      h("time", { title: formatDate(made, { time: true }) }, formatAgo(made)),
    ),
    reportTable(report),
    answer.plot_url
      ? h("img", { class: "eval-plot", src: answer.plot_url, alt: "Recall@K curves, one line per configuration" })
      : null,
  );
}

async function load() {
  evalRunning = false;
  try {
    const answer = await api("/eval");
    showJob(answer.job, answer.step);
    showReport(answer);
    evalRunning = Boolean(answer.job) && !FINISHED.has(answer.job.state);
  } catch (error) {
    els.report.setAttribute("aria-busy", "false");
    els.report.replaceChildren(h("p", { class: "error-text" }, `Quality unavailable: ${errorText(error)}`));
  }
}

const refresh = every(() => (evalRunning ? RUNNING_MS : IDLE_MS), load);
