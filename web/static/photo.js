// The page of one photo: preview, metadata, the original, and similar photos.
import {
  api,
  errorText,
  formatDate,
  h,
  photoLabel,
  photoMetadata,
  previewImage,
  showError,
} from "./common.js";

const SIMILAR_COUNT = 12;
const $ = (id) => document.getElementById(id);
const root = $("photo");
const photoId = root.dataset.photoId;

async function show() {
  let photo;
  try {
    photo = await api(`/images/${encodeURIComponent(photoId)}`);
  } catch (error) {
    root.setAttribute("aria-busy", "false");
    if (error.status === 404) {
      $("photo-title").textContent = "Photo not found";
      showError(
        $("photo-error"),
        "This photo is not in the index (it may have been deleted, or the link is wrong).",
      );
    } else {
      $("photo-title").textContent = "Photo unavailable";
      showError($("photo-error"), error);
    }
    document.title = "Not found · pixseek";
    return;
  }
  const label = photoLabel(photo);
  document.title = `${photo.filename || "Photo"} · pixseek`;
  $("photo-title").textContent = photo.filename || label;
  $("photo-original").href = photo.original_url;
  $("photo-actions").hidden = false;

  const preview = previewImage(photo, label, { fetchpriority: "high" });
  $("photo-figure").replaceChildren(
    h("a", { href: photo.original_url, target: "_blank", rel: "noopener", title: "Open the original file" }, preview),
  );
  $("photo-meta").replaceChildren(photoMetadata(photo));
  $("photo-body").hidden = false;
  root.setAttribute("aria-busy", "false");
  showSimilar(photo);
}

async function showSimilar(photo) {
  const section = $("photo-similar-section");
  const list = $("photo-similar");
  section.hidden = false;
  list.setAttribute("aria-busy", "true");
  list.replaceChildren(
    ...Array.from({ length: 6 }, () => h("li", { class: "similar-item skeleton", "aria-hidden": "true" })),
  );
  try {
    const answer = await api("/search", {
      method: "POST",
      body: { photos: [{ id: photo.id }], limit: SIMILAR_COUNT },
    });
    list.replaceChildren(
      ...answer.results.map((item) =>
        h(
          "li",
          { class: "similar-item tile", dataset: { id: item.id } },
          h(
            "a",
            { class: "thumb", href: `/photos/${encodeURIComponent(item.id)}`, title: photoLabel(item) },
            h("img", {
              src: item.thumbnail_url,
              alt: photoLabel(item),
              loading: "lazy",
              decoding: "async",
              width: 320,
              height: 320,
            }),
          ),
          h(
            "div",
            { class: "result-caption" },
            h("span", { class: "score", title: "Similarity score" }, item.score.toFixed(3)),
            item.taken_at ? h("time", { datetime: item.taken_at }, formatDate(item.taken_at)) : null,
          ),
        ),
      ),
    );
    if (!answer.results.length) list.replaceChildren(h("li", { class: "muted" }, "No other photos yet."));
  } catch (error) {
    list.replaceChildren(
      h("li", { class: "muted" }, `Similar photos could not be loaded: ${errorText(error)}`),
    );
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

show();
