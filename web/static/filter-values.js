// The values the library holds for each filter, with counts (POST /api/v1/facets), offered by
// the search page's filter controls: cameras (make, then its models) and folders (their names
// under the library folders) and places (cities, regions, countries) as you type, file types and
// years/months in their lists.
import { api, formatCount } from "./common.js";
import { combobox } from "./combobox.js";

const FORMAT_NAMES = {
  jpeg: "JPEG", png: "PNG", webp: "WebP", gif: "GIF", heif: "HEIF / HEIC", avif: "AVIF",
  tiff: "TIFF", bmp: "BMP", mpo: "MPO", jpeg2000: "JPEG 2000",
}; // prettier-ignore
const MONTH = new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" });

/** "June 2021" for "2021-06". */
export const monthName = (month) => MONTH.format(new Date(`${month}-01T00:00:00Z`));

/** The last day of a year ("2021") or a month ("2021-06"), as YYYY-MM-DD. */
function lastDay(period) {
  if (period.length === 4) return `${period}-12-31`;
  const [year, month] = period.split("-").map(Number);
  const day = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return `${period}-${String(day).padStart(2, "0")}`;
}

const firstDay = (period) => (period.length === 4 ? `${period}-01-01` : `${period}-01`);

/**
 * Wire the controls to the facets: els {camera, folder, place, format, period, after, before};
 * changed() is called when a value taken changes the filters. Answers {load(filters)}, which
 * asks for the facets of these filters and offers them.
 */
export function filterValues(els, changed) {
  let found = null; // the last FacetsAnswer
  let asked = 0;
  const cameras = combobox(els.camera, { offers: cameraOffers, choose: changed, separator: "," });
  const folders = combobox(els.folder, { offers: folderOffers, choose: changed });
  const places = combobox(els.place, { offers: placeOffers, choose: changed, separator: "," });

  function cameraOffers() {
    return (found?.cameras || []).flatMap((make) => [
      { value: make.name, label: make.name, count: make.photos, depth: 0 },
      ...make.models.map((m) => ({ value: m.name, label: m.name, count: m.photos, depth: 1 })),
    ]);
  }

  function folderOffers() {
    const offers = [];
    const walk = (folder, depth) => {
      offers.push({ value: folder.filter, label: folder.filter, count: folder.photos, depth });
      for (const child of folder.folders) walk(child, depth + 1);
    };
    for (const tree of found?.folders || []) walk(tree, 0);
    return offers;
  }

  function placeOffers() {
    const placesFound = found?.places || {};
    return ["city", "region", "country"].flatMap((kind) =>
      (placesFound[kind] || []).map((place) => ({
        value: place.value,
        label: `${place.value} (${kind})`,
        count: place.photos,
        depth: 0,
      })),
    );
  }

  function showFormats() {
    const chosen = els.format.value;
    const counts = new Map((found?.formats || []).map((f) => [f.value, f.photos]));
    if (chosen && !counts.has(chosen)) counts.set(chosen, 0);
    const options = [new Option("Any", "")];
    for (const [value, photos] of counts) {
      options.push(new Option(`${FORMAT_NAMES[value] || value.toUpperCase()} (${formatCount(photos)})`, value));
    }
    els.format.replaceChildren(...options);
    els.format.value = chosen;
  }

  function showPeriods() {
    const options = [new Option("Any time", "")];
    for (const year of found?.years || []) {
      options.push(new Option(`${year.period} (${formatCount(year.photos)})`, year.period));
      for (const month of year.months) {
        const label = `\u2003${monthName(month.period)} (${formatCount(month.photos)})`;
        options.push(new Option(label, month.period));
      }
    }
    els.period.replaceChildren(...options);
    showPeriod();
  }

  /** The year or month that After and Before span exactly, else "Any time" (or the dates). */
  function showPeriod() {
    const after = els.after.value;
    const before = els.before.value;
    const match = [...els.period.options].find(
      (o) => o.value && firstDay(o.value) === after && lastDay(o.value) === before,
    );
    els.period.value = match ? match.value : "";
    els.period.options[0].text = after || before ? "Dates below" : "Any time";
  }

  els.period.addEventListener("change", () => {
    const period = els.period.value;
    els.after.value = period ? firstDay(period) : "";
    els.before.value = period ? lastDay(period) : "";
    showPeriod();
    changed();
  });

  return {
    async load(filters) {
      const seq = ++asked;
      try {
        const answer = await api("/facets", { method: "POST", body: { filters } });
        if (seq !== asked) return;
        found = answer;
      } catch {
        return; // the controls still take typed values; the search says what is wrong
      }
      showFormats();
      showPeriods();
      cameras.refresh();
      folders.refresh();
      places.refresh();
    },
    showPeriod,
  };
}
