// Elements from data, without ever parsing HTML: text becomes text nodes, URLs are checked.
// Nothing in the playground parses markup from data, so a model's description, output or log line
// can only ever be shown as text.

const SAFE_URL = /^(blob:|data:(image|audio|video)\/|https?:|#)/i;

// Element properties set as properties rather than attributes (they are live state).
const PROPS = new Set(["value", "checked", "disabled", "hidden", "multiple", "selected"]);

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (PROPS.has(key)) el[key] = value;
    else if ((key === "href" || key === "src") && !SAFE_URL.test(String(value))) continue;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

let nextId = 0;
export const uniqueId = (prefix) => `${prefix}-${++nextId}`;

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function formatSeconds(s) {
  return s < 10 ? `${s.toFixed(2)} s` : s < 120 ? `${s.toFixed(1)} s` : `${Math.round(s / 60)} min`;
}

// Announce a short message to screen readers and show it briefly.
export function toast(message) {
  const box = $("#toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 2500);
}
