// A text box that offers values as you type (the ARIA 1.2 combobox with a list popup): the
// arrow keys move through the offered values, Enter or a click takes one, Escape closes the
// list. The text box keeps its own label; the list is labelled by it too. With `separator`,
// the box holds several values ("canon, x-t3") and the offers complete the last one.
import { formatCount, h } from "./common.js";

const MAX_SHOWN = 50; // offers shown at once; typing narrows them

/**
 * Make `input` a combobox. offers() answers [{value, label, count, depth}] (depth indents a
 * value under the one before: a model under its make, a folder under its parent); choose(value)
 * is called after a value is taken. Answers {refresh()} to show new offers while open.
 */
export function combobox(input, { offers, choose, separator = null }) {
  const list = h("ul", {
    id: `${input.id}-offers`,
    class: "combobox-list",
    role: "listbox",
    "aria-labelledby": input.labels?.[0]?.id || null,
    "aria-label": input.labels?.[0]?.id ? null : input.labels?.[0]?.textContent || null,
    hidden: true,
  });
  input.after(list);
  input.parentElement.classList.add("combobox");
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", list.id);
  let shown = [];
  let active = -1;
  let asking = false; // offers were asked for (typing, focus, arrows) and not dismissed since

  const term = () => (separator ? input.value.split(separator).pop() : input.value).trim();

  function matching() {
    const typed = term().toLowerCase();
    const all = offers();
    if (!typed) return all;
    return all.filter((offer) => `${offer.value} ${offer.label}`.toLowerCase().includes(typed));
  }

  function open() {
    asking = true;
    shown = matching().slice(0, MAX_SHOWN);
    active = -1;
    list.replaceChildren(...shown.map(optionOf));
    list.hidden = shown.length === 0;
    input.setAttribute("aria-expanded", String(!list.hidden));
    input.removeAttribute("aria-activedescendant");
  }

  function optionOf(offer, index) {
    return h(
      "li",
      {
        id: `${list.id}-${index}`,
        role: "option",
        class: "combobox-option",
        "aria-selected": "false",
        dataset: { index: String(index) },
        style: offer.depth ? { paddingLeft: `${0.6 + offer.depth}rem` } : null,
      },
      h("span", { class: "combobox-label" }, offer.label),
      typeof offer.count === "number"
        ? h("span", { class: "combobox-count" }, formatCount(offer.count))
        : null,
    );
  }

  function close() {
    asking = false;
    list.hidden = true;
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function highlight(index) {
    const options = list.children;
    if (!options.length) return;
    active = (index + options.length) % options.length;
    for (const option of options) option.setAttribute("aria-selected", "false");
    const option = options[active];
    option.setAttribute("aria-selected", "true");
    input.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({ block: "nearest" });
  }

  function take(index) {
    const offer = shown[index];
    if (!offer) return;
    if (separator) {
      const before = input.value.split(separator).slice(0, -1).map((v) => v.trim());
      input.value = [...before.filter(Boolean), offer.value].join(`${separator} `);
    } else {
      input.value = offer.value;
    }
    close();
    choose(offer.value);
  }

  input.addEventListener("input", open);
  input.addEventListener("focus", () => {
    if (!input.value) open();
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
  input.addEventListener("keydown", (event) => {
    if (event.altKey && event.key === "ArrowDown") {
      open();
      return;
    }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (list.hidden) open();
      highlight(active + (event.key === "ArrowDown" ? 1 : active < 0 ? 0 : -1));
    } else if (event.key === "Enter" && !list.hidden && active >= 0) {
      event.preventDefault();
      event.stopImmediatePropagation(); // the value taken, not the text typed so far
      take(active);
    } else if (event.key === "Enter") {
      close(); // the text as typed filters
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();
      event.stopPropagation();
      close();
    }
  });
  list.addEventListener("mousedown", (event) => event.preventDefault()); // focus stays put
  list.addEventListener("click", (event) => {
    const option = event.target.closest("[role=option]");
    if (option) take(Number(option.dataset.index));
  });
  return {
    refresh() {
      // typed before the values arrived (nothing matched yet), or the list is open: show them
      if (!asking || document.activeElement !== input) return;
      const kept = shown[active]?.value; // the offer the arrow keys had reached, if still offered
      open();
      const again = shown.findIndex((offer) => offer.value === kept);
      if (kept !== undefined && again >= 0) highlight(again);
    },
  };
}
