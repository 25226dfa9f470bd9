// The duplicates page: each group of near-duplicates side by side, the one to keep first, and
// (for an admin) "Not duplicates", which is remembered and never proposed again.
import { api, formatBytes, formatDate, h, isAdmin, photoLabel, plural, showError, toast } from "./common.js";

const $ = (id) => document.getElementById(id);
const els = {
  groups: $("duplicate-groups"),
  info: $("duplicates-info"),
  empty: $("duplicates-empty"),
  error: $("duplicates-error"),
};

async function show() {
  els.groups.setAttribute("aria-busy", "true");
  let answer;
  try {
    answer = await api("/duplicates");
  } catch (error) {
    els.info.textContent = "";
    showError(els.error, error);
    return;
  } finally {
    els.groups.setAttribute("aria-busy", "false");
  }
  showError(els.error, null);
  els.groups.replaceChildren(...answer.groups.map(groupItem));
  els.empty.hidden = answer.groups.length > 0;
  els.info.textContent = answer.groups.length
    ? `${plural(answer.groups.length, "group")}, ${plural(answer.photos, "photo")}`
    : "";
}

function groupItem(group) {
  return h(
    "li",
    { class: "card duplicate-group", dataset: { id: group.id } },
    h(
      "div",
      { class: "card-head" },
      h("h2", {}, plural(group.photos.length, "photo")),
      isAdmin()
        ? h(
            "button",
            {
              type: "button",
              class: "btn btn-small",
              "data-action": "distinct",
              title: "These photos are different: never propose them as duplicates again",
              onclick: () => markDistinct(group),
            },
            "Not duplicates",
          )
        : null,
    ),
    h("ul", { class: "grid duplicate-photos" }, ...group.photos.map((p) => photoItem(p, group))),
  );
}

function photoItem(photo, group) {
  const keep = photo.id === group.keep;
  const label = photoLabel(photo);
  return h(
    "li",
    { class: "tile duplicate-photo" + (keep ? " keep" : ""), dataset: { id: photo.id } },
    h(
      "a",
      { class: "thumb", href: `/photos/${encodeURIComponent(photo.id)}`, title: label },
      h("img", { src: photo.thumbnail_url, alt: label, loading: "lazy", decoding: "async" }),
    ),
    h(
      "dl",
      { class: "duplicate-facts" },
      keep ? h("dt", { class: "keep-label" }, "Suggested to keep") : null,
      h("dd", {}, `${photo.width || "?"} × ${photo.height || "?"}`),
      h("dd", {}, photo.bytes ? formatBytes(photo.bytes) : ""),
      h("dd", {}, photo.taken_at ? formatDate(photo.taken_at) : "no date"),
      h("dd", { class: "path", title: photo.path || "" }, photo.path || ""),
    ),
  );
}

async function markDistinct(group) {
  try {
    await api("/duplicates/distinct", {
      method: "POST",
      body: { ids: group.photos.map((p) => p.id) },
    });
  } catch (error) {
    showError(els.error, error);
    return;
  }
  toast("Marked as not duplicates");
  await show();
}

show();
