// What the hub's pages share (web/pages/): the session, GraphQL through it, and DOM
// helpers that write text, never markup. Nothing is kept in storage: the session cookie is
// HttpOnly, and the CSRF token lives in this module only.

let csrfToken = null;

export class HubError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/** The signed-in session, or a redirect to sign in when there is none (or the wrong kind). */
export async function requireSession(kinds, signIn = "/login") {
  const response = await fetch("/session", { cache: "no-store" });
  if (response.status === 401) {
    location.replace(signIn);
    throw new HubError("not signed in", "UNAUTHENTICATED");
  }
  const session = await response.json();
  if (!response.ok) throw new HubError(firstError(session), "INTERNAL");
  csrfToken = session.csrfToken;
  if (!kinds.includes(session.kind)) {
    location.replace(session.home);
    throw new HubError("another page is for this account", "FORBIDDEN");
  }
  return session;
}

export function rememberCsrf(token) {
  csrfToken = token;
}

export function csrf() {
  return csrfToken;
}

function firstError(body) {
  return (body && body.errors && body.errors[0] && body.errors[0].message) || "the hub did not answer";
}

/** Runs a GraphQL document as the signed-in user; throws HubError with the error's code. */
export async function gql(query, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", "x-csrf-token": csrfToken || "" },
    body: JSON.stringify({ query, variables }),
  });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new HubError("the hub answered " + response.status, "INTERNAL");
  }
  if (body.errors && body.errors.length) {
    const code = body.errors[0].extensions && body.errors[0].extensions.code;
    if (code === "UNAUTHENTICATED") location.replace("/login");
    throw new HubError(firstError(body), code);
  }
  return body.data;
}

/** An element: `h("p", { class: "x", onclick: f }, "text", child)`. Strings become text. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function show(target, ...children) {
  const element = typeof target === "string" ? document.getElementById(target) : target;
  element.replaceChildren();
  append(element, children);
  return element;
}

export const points = (n) => Number(n).toLocaleString("en") + " pts";
export const when = (iso) => (iso ? new Date(iso).toLocaleString("en-GB", { timeZone: "UTC" }) + " UTC" : "");
export const day = (iso) => (iso ? String(iso).slice(0, 10) : "");

/** A table of `rows` (objects) with `columns` [{ label, value: row => text|Node, num }]. */
export function table(caption, columns, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("div", { class: "table-wrap" },
    h("table", {},
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.num ? "num" : null }, c.value(row))))))));
}

/** A form whose submit runs `action(values)`; errors show in the form, by its code. */
export function form(fields, submitLabel, action, { inline = false } = {}) {
  const status = h("p", { role: "status", "aria-live": "polite" });
  const inputs = fields.map((f) => {
    const control = f.options
      ? h("select", { name: f.name, required: f.optional ? null : true },
          f.options.map(([value, label]) => h("option", { value }, label)))
      : h("input", {
          name: f.name, type: f.type || "text", required: f.optional ? null : true,
          autocomplete: f.autocomplete || "off", inputmode: f.inputmode, min: f.min, step: f.step, placeholder: f.placeholder,
          value: f.value,
        });
    return h("label", {}, f.label, control);
  });
  const button = h("button", { type: "submit", class: "primary" }, submitLabel);
  const element = h("form", { class: inline ? "inline" : null }, inputs, button, status);
  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(element).entries());
    button.disabled = true;
    show(status, "Working…");
    status.className = "";
    try {
      const result = await action(values);
      show(status, result || "Done.");
    } catch (error) {
      status.className = "error";
      show(status, error.message + (error.code ? " (" + error.code + ")" : ""));
    } finally {
      button.disabled = false;
    }
  });
  return element;
}

/** An idempotency key for one press of a button (a retry of the same press reuses it). */
export function newKey(prefix) {
  return prefix + "-" + crypto.randomUUID();
}

/** The page's header: brand, links, who is signed in, and sign-out. */
export function header(title, session, links = []) {
  const who = session.email || (session.kind === "member" ? "your wallet" : "");
  const signOut = h("button", { type: "button", id: "sign-out", onclick: () => signOutNow(session) }, "Sign out");
  const bar = h("header", {},
    h("span", { class: "brand" }, title),
    h("nav", { "aria-label": "Pages" }, links.map(([href, label]) => h("a", { href }, label))),
    h("span", { class: "muted" }, who),
    signOut);
  document.body.prepend(bar);
}

async function signOutNow(session) {
  await fetch("/logout", { method: "POST", headers: { "x-csrf-token": csrfToken || "" } });
  csrfToken = null;
  location.replace(session.kind === "member" ? "/app" : "/login");
}

/** Every one of the last `count` UTC days, with zeros where `days` has none. */
function lastDays(days, count) {
  const byDate = new Map(days.map((d) => [d.date, d]));
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  return Array.from({ length: count }, (_, i) => {
    const date = new Date(today - (count - 1 - i) * 86400000).toISOString().slice(0, 10);
    return byDate.get(date) || { date, issued: 0, redeemed: 0 };
  });
}

/** Bars of points issued (up) and redeemed (down) per day, as an SVG with a text summary. */
export function activityChart(caption, activeDays, count = 30) {
  const days = lastDays(activeDays, count);
  const ns = "http://www.w3.org/2000/svg";
  const svg = (tag, attributes) => {
    const element = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attributes)) element.setAttribute(k, String(v));
    return element;
  };
  const width = 600, height = 200, middle = height / 2;
  const max = Math.max(1, ...days.map((d) => Math.max(Number(d.issued), Number(d.redeemed))));
  const step = width / Math.max(days.length, 1);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": caption });
  days.forEach((d, i) => {
    const up = (Number(d.issued) / max) * (middle - 4);
    const down = (Number(d.redeemed) / max) * (middle - 4);
    const x = i * step + step * 0.15, w = step * 0.7;
    const issued = svg("rect", { class: "issued", x, y: middle - up, width: w, height: up });
    const redeemed = svg("rect", { class: "redeemed", x, y: middle, width: w, height: down });
    for (const [bar, text] of [[issued, "issued"], [redeemed, "redeemed"]]) {
      const title = svg("title", {});
      title.textContent = `${d.date}: ${text} ${d[text]}`;
      bar.append(title);
      chart.append(bar);
    }
  });
  chart.append(svg("line", { x1: 0, x2: width, y1: middle, y2: middle, stroke: "currentColor", "stroke-opacity": 0.4 }));
  const total = (key) => days.reduce((sum, d) => sum + Number(d[key]), 0);
  return h("figure", { class: "chart" }, chart,
    h("figcaption", { class: "legend" },
      h("span", { class: "issued" }, "issued " + total("issued").toLocaleString("en")),
      h("span", { class: "redeemed" }, "redeemed " + total("redeemed").toLocaleString("en")),
      h("span", { class: "muted" }, caption)));
}

/** Bars of the points outstanding on each recorded day, and now. */
export function liabilityChart(caption, recorded, now) {
  const days = [...recorded.map((d) => ({ label: d.date, points: Number(d.points) })), { label: "now", points: Number(now) }];
  const ns = "http://www.w3.org/2000/svg";
  const width = 600, height = 160;
  const max = Math.max(1, ...days.map((d) => d.points));
  const step = width / days.length;
  const chart = document.createElementNS(ns, "svg");
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  chart.setAttribute("role", "img");
  chart.setAttribute("aria-label", caption);
  days.forEach((d, i) => {
    const bar = document.createElementNS(ns, "rect");
    const tall = (d.points / max) * (height - 4);
    for (const [k, v] of Object.entries({ class: "issued", x: i * step + step * 0.15, y: height - tall, width: step * 0.7, height: tall })) {
      bar.setAttribute(k, String(v));
    }
    const title = document.createElementNS(ns, "title");
    title.textContent = `${d.label}: ${d.points.toLocaleString("en")} outstanding`;
    bar.append(title);
    chart.append(bar);
  });
  return h("figure", { class: "chart" }, chart,
    h("figcaption", { class: "muted" }, `${caption}: ${days.length - 1} recorded days, then now`));
}

/** Shows a failure where the page's content would be. */
export function fail(target, error) {
  show(target, h("p", { class: "error", role: "alert" }, error.message));
}
