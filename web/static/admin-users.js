// The admin page's Users card: add a viewer or an admin, set a password, disable or enable a
// user, see a user's login sessions and API tokens and end them (the API of web/api_users.py;
// the same as `pixseek users`). The tokens table below (admin.js) and this card tell each other
// when tokens change, with a "pixseek:tokens-changed" event on the document.
import { api, currentUser, errorText, formatAgo, formatDate, h, plural, showError, toast } from "./common.js";

const TOKENS_CHANGED = "pixseek:tokens-changed";
const $ = (id) => document.getElementById(id);
const els = {
  list: $("users"),
  form: $("user-form"),
  name: $("user-name"),
  password: $("user-password"),
  role: $("user-role"),
  submit: $("user-submit"),
  error: $("user-form-error"),
};
const opened = new Set(); // users whose sessions and tokens are shown, kept across refreshes

const badge = (text, kind) => h("span", { class: `badge badge-${kind}` }, text);
const when = (seconds) => h("time", { title: formatDate(seconds, { time: true }) }, formatAgo(seconds));

/** rows grouped by their `user`: a Map from user name to its rows. */
function byUser(rows) {
  const groups = new Map();
  for (const row of rows) groups.set(row.user, [...(groups.get(row.user) || []), row]);
  return groups;
}

/** Users, live sessions and tokens, each grouped by user name. */
async function fetchAll() {
  const [users, sessions, tokens] = await Promise.all([
    api("/users"),
    api("/users/sessions"),
    api("/tokens"),
  ]);
  return { users: users.users, sessions: byUser(sessions.sessions), tokens: byUser(tokens.tokens) };
}

async function refresh() {
  let found;
  try {
    found = await fetchAll();
  } catch (error) {
    els.list.setAttribute("aria-busy", "false");
    els.list.replaceChildren(h("li", { class: "error-text" }, `Users unavailable: ${errorText(error)}`));
    return;
  }
  els.list.setAttribute("aria-busy", "false");
  els.list.replaceChildren(
    ...found.users.map((user, index) =>
      userItem(user, index, found.sessions.get(user.name) || [], found.tokens.get(user.name) || []),
    ),
  );
}

function userItem(user, index, sessions, tokens) {
  const me = user.name === currentUser();
  const item = h(
    "li",
    { class: "user", dataset: { user: user.name } },
    h(
      "div",
      { class: "user-head" },
      h("strong", { class: "user-title" }, user.name),
      badge(user.role, user.role === "admin" ? "warn" : "neutral"),
      user.disabled ? badge("disabled", "off") : null,
      me ? h("span", { class: "muted" }, "(you)") : null,
      h("span", { class: "muted user-counts" }, counts(sessions, tokens), " · added ", when(user.created_at)),
    ),
    h("p", { class: "error-text user-error", role: "alert", hidden: true }),
  );
  item.append(actions(user, me, item), passwordForm(user, index, item), details(user, sessions, tokens, item));
  return item;
}

const counts = (sessions, tokens) => `${plural(sessions.length, "session")} · ${plural(tokens.length, "token")}`;

function actions(user, me, item) {
  return h(
    "div",
    { class: "user-actions" },
    h(
      "button",
      {
        type: "button",
        class: "btn btn-small",
        "aria-label": `Reset password of ${user.name}`,
        onclick: () => openPasswordForm(item),
      },
      "Reset password",
    ),
    me
      ? null
      : h(
          "button",
          {
            type: "button",
            class: user.disabled ? "btn btn-small" : "btn btn-small btn-danger-ghost",
            "aria-label": `${user.disabled ? "Enable" : "Disable"} ${user.name}`,
            onclick: (event) => setDisabled(user, !user.disabled, event.currentTarget, item),
          },
          user.disabled ? "Enable" : "Disable",
        ),
  );
}

// ---------------------------------------------------------------- password

function passwordForm(user, index, item) {
  const id = `user-password-${index}`;
  const input = h("input", {
    id,
    type: "password",
    required: true,
    minlength: 8,
    maxlength: 1000,
    autocomplete: "new-password",
  });
  const form = h(
    "form",
    { class: "user-password-form", hidden: true },
    h("div", { class: "field" }, h("label", { for: id }, `New password for ${user.name}`), input),
    h("button", { type: "submit", class: "btn btn-primary btn-small" }, "Set password"),
    h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => closePasswordForm(item) }, "Cancel"),
    h("p", { class: "muted user-password-note" }, "Its login sessions end; its API tokens keep working."),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setPassword(user, input.value, form, item);
  });
  return form;
}

function openPasswordForm(item) {
  const form = item.querySelector(".user-password-form");
  form.hidden = false;
  form.querySelector("input").focus();
}

function closePasswordForm(item) {
  const form = item.querySelector(".user-password-form");
  form.reset();
  form.hidden = true;
  item.querySelector(".user-actions button").focus();
}

async function setPassword(user, password, form, item) {
  const submit = form.querySelector('button[type="submit"]');
  await act(item, submit, async () => {
    await api(`/users/${encodeURIComponent(user.name)}/password`, { method: "POST", body: { password } });
    toast(`New password set for ${user.name}: its login sessions have ended.`, { kind: "success" });
  });
}

// ---------------------------------------------------------------- disable, enable

async function setDisabled(user, disabled, button, item) {
  await act(item, button, async () => {
    await api(`/users/${encodeURIComponent(user.name)}/disabled`, { method: "POST", body: { disabled } });
    const said = disabled
      ? `${user.name} is disabled: its sessions have ended and its tokens are refused.`
      : `${user.name} is enabled again.`;
    toast(said, { kind: "success" });
  });
}

/** Run an action of a user's row: its error shown in the row, the list refreshed after it. */
async function act(item, button, action) {
  const box = item.querySelector(".user-error");
  showError(box, null);
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    showError(box, error);
    button.disabled = false;
    return;
  }
  await refresh();
  const again = els.list.querySelector(`li.user[data-user="${CSS.escape(item.dataset.user)}"]`);
  again?.querySelector(".user-actions button")?.focus();
}

// ---------------------------------------------------------------- sessions and tokens

function details(user, sessions, tokens, item) {
  const box = h(
    "details",
    { class: "user-details", open: opened.has(user.name) },
    h("summary", {}, `Sessions and tokens of ${user.name}`),
    h("h3", { class: "user-subtitle" }, "Login sessions"),
    sessions.length
      ? h("ul", { class: "user-sessions" }, sessions.map((s) => sessionItem(user, s, item)))
      : h("p", { class: "muted" }, "No live session."),
    h("h3", { class: "user-subtitle" }, "API tokens"),
    tokenList(user, tokens, item),
  );
  box.addEventListener("toggle", () => (box.open ? opened.add(user.name) : opened.delete(user.name)));
  return box;
}

const BROWSERS = [["Edg", "Edge"], ["OPR", "Opera"], ["Firefox", "Firefox"], ["Chrome", "Chrome"], ["Version", "Safari"]];
const SYSTEMS = ["Android", "iPhone", "iPad", "Windows", "Mac OS X", "CrOS", "Linux"];

/** "Chrome 156 on Linux" from a User-Agent header; the header itself when it names neither. */
function browserName(agent) {
  const found = BROWSERS.map(([key, name]) => [agent.match(new RegExp(`${key}/(\\d+)`)), name]).find(([m]) => m);
  const system = SYSTEMS.find((name) => agent.includes(name));
  if (!found) return agent || "unknown browser";
  return `${found[1]} ${found[0][1]}${system ? ` on ${system === "Mac OS X" ? "macOS" : system}` : ""}`;
}

function sessionItem(user, session, item) {
  return h(
    "li",
    { class: "user-session", dataset: { sessionId: session.id } },
    h(
      "span",
      { class: "user-session-what", title: session.user_agent || null },
      browserName(session.user_agent || ""),
      h("span", { class: "muted" }, ` · ${session.address || "unknown address"} · last used `, when(session.last_seen_at)),
    ),
    h(
      "button",
      {
        type: "button",
        class: "btn btn-small btn-danger-ghost",
        "aria-label": `End session of ${user.name}`,
        onclick: (event) =>
          act(item, event.currentTarget, async () => {
            await api(`/users/sessions/${encodeURIComponent(session.id)}`, { method: "DELETE" });
            toast(`A session of ${user.name} has ended: that browser is logged out.`, { kind: "success" });
          }),
      },
      "End session",
    ),
  );
}

function tokenList(user, tokens, item) {
  if (!tokens.length) return h("p", { class: "muted" }, "No API token (make one in API tokens below).");
  return h(
    "ul",
    { class: "user-sessions" },
    tokens.map((token) =>
      h(
        "li",
        { class: "user-session user-token", dataset: { tokenId: token.id } },
        h(
          "span",
          { class: "user-session-what" },
          `“${token.name}” `,
          badge(token.role, token.role === "admin" ? "warn" : "neutral"),
          h("span", { class: "muted" }, " · last used ", token.last_used_at ? when(token.last_used_at) : "never"),
        ),
        h(
          "button",
          {
            type: "button",
            class: "btn btn-small btn-danger-ghost",
            "aria-label": `Delete token ${token.name} of ${user.name}`,
            onclick: (event) =>
              act(item, event.currentTarget, async () => {
                await api(`/tokens/${encodeURIComponent(token.id)}`, { method: "DELETE" });
                toast(`Token “${token.name}” deleted: scripts using it are refused from now on.`, { kind: "success" });
                document.dispatchEvent(new CustomEvent(TOKENS_CHANGED, { detail: { from: "users" } }));
              }),
          },
          "Delete",
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------- add

els.form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(els.error, null);
  els.submit.disabled = true;
  const body = { name: els.name.value.trim(), password: els.password.value, role: els.role.value };
  try {
    const added = await api("/users", { method: "POST", body });
    toast(`Added ${added.name} (${added.role}): they can log in now.`, { kind: "success" });
    els.form.reset();
    await refresh();
  } catch (error) {
    showError(els.error, error);
  } finally {
    els.submit.disabled = false;
  }
});

document.addEventListener(TOKENS_CHANGED, (event) => {
  if (event.detail?.from !== "users") refresh();
});

refresh();
