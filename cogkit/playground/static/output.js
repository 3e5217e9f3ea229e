// Outputs as people expect to see them: images, audio and video shown, text as text, JSON
// pretty-printed, other files as downloads. Files come from data URIs turned into blob URLs of
// an allow-listed type (anything else is application/octet-stream: downloaded, never rendered);
// remote URLs are links, since the page's CSP loads nothing from other origins.

import { h, formatBytes } from "./dom.js";
import { isConcatenated, isIterator } from "./schema.js";

const SHOWN = {
  image: ["png", "jpeg", "gif", "webp", "avif", "bmp", "svg+xml", "x-icon", "vnd.microsoft.icon"],
  audio: ["mpeg", "mp3", "wav", "x-wav", "wave", "ogg", "webm", "flac", "x-flac", "aac", "mp4", "x-m4a"],
  video: ["mp4", "webm", "ogg", "quicktime"],
};
const EXTENSIONS = { jpeg: "jpg", "svg+xml": "svg", mpeg: "mp3", "x-wav": "wav", wave: "wav", quicktime: "mov",
  "x-flac": "flac", "x-m4a": "m4a", plain: "txt", "octet-stream": "bin" };
const TEXT_PREVIEW_BYTES = 256 * 1024;

export function parseDataUri(uri) {
  const comma = uri.indexOf(",");
  if (!uri.startsWith("data:") || comma < 0) return null;
  const params = uri.slice(5, comma).split(";");
  const mime = (params[0] || "text/plain").trim().toLowerCase();
  const payload = uri.slice(comma + 1);
  try {
    if (params.slice(1).some((p) => p.trim().toLowerCase() === "base64")) {
      const binary = atob(payload.replace(/\s+/g, ""));
      const bytes = new Uint8Array(binary.length);
      for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
      return { mime, bytes };
    }
    return { mime, bytes: new TextEncoder().encode(decodeURIComponent(payload)) };
  } catch {
    return null;
  }
}

function mediaKind(mime) {
  const [top, sub] = mime.split("/");
  return SHOWN[top]?.includes(sub) ? top : null;
}

function isTextual(mime) {
  return mime.startsWith("text/") || /^application\/(json|x-ndjson|xml|yaml|x-yaml|csv)$/.test(mime);
}

function looksLikeFile(value, schema) {
  return typeof value === "string" && (/^data:/i.test(value) || (schema?.format === "uri" && /^https?:/i.test(value)));
}

function abbreviate(key, value) {
  if (typeof value === "string" && value.startsWith("data:") && value.length > 120) {
    return `${value.slice(0, value.indexOf(",") + 1)}… (${formatBytes(Math.floor((value.length * 3) / 4))})`;
  }
  return value;
}

function collectFiles(value, found = []) {
  if (typeof value === "string" && value.startsWith("data:")) found.push(value);
  else if (value && typeof value === "object") for (const v of Object.values(value)) collectFiles(v, found);
  return found;
}

export class OutputView {
  constructor(container) {
    this.container = container;
    this.urls = [];
    this.schema = null;
    this.streamed = 0;
    this.text = null;
  }

  reset(schema) {
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
    this.schema = schema;
    this.streamed = 0;
    this.text = null;
    this.container.replaceChildren();
  }

  // One `output` event of a stream: the next item of an iterator, or the whole output.
  chunk(value) {
    if (!isIterator(this.schema)) {
      this.reset(this.schema);
      this.show(value);
      return;
    }
    this.streamed += 1;
    if (isConcatenated(this.schema)) {
      this.text ??= this.container.appendChild(h("pre", { class: "text", "aria-live": "polite" }));
      this.text.append(typeof value === "string" ? value : JSON.stringify(value));
      return;
    }
    this.container.append(this.item(value, this.streamed, this.schema.items));
  }

  // The final output of a run; a stream already shown in full stays as it is.
  final(value) {
    if (isIterator(this.schema) && Array.isArray(value) && value.length === this.streamed && this.streamed > 0) return;
    this.reset(this.schema);
    this.show(value);
  }

  show(value) {
    const schema = this.schema;
    if (value === null || value === undefined) {
      this.container.append(h("p", { class: "muted" }, "No output."));
    } else if (Array.isArray(value) && isConcatenated(schema)) {
      this.container.append(h("pre", { class: "text" }, value.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join("")));
    } else if (Array.isArray(value) && value.length && value.every((v) => looksLikeFile(v, schema?.items))) {
      this.container.append(h("div", { class: "gallery" }, value.map((v, i) => this.file(v, i + 1))));
    } else if (looksLikeFile(value, schema)) {
      this.container.append(this.file(value, null));
    } else if (typeof value === "string") {
      this.container.append(h("pre", { class: "text" }, value));
    } else if (typeof value !== "object") {
      this.container.append(h("pre", { class: "text" }, String(value)));
    } else {
      this.container.append(h("pre", { class: "json" }, JSON.stringify(value, abbreviate, 2)));
      const files = collectFiles(value);
      if (files.length) this.container.append(h("div", { class: "gallery" }, files.map((v, i) => this.file(v, i + 1))));
    }
  }

  item(value, n, schema) {
    if (looksLikeFile(value, schema)) return this.file(value, n);
    return h("pre", { class: typeof value === "string" ? "text" : "json" }, typeof value === "string" ? value : JSON.stringify(value, abbreviate, 2));
  }

  file(value, n) {
    const label = n === null ? "output" : `output ${n}`;
    if (/^https?:/i.test(value)) {
      let name = value;
      try { name = decodeURIComponent(new URL(value).pathname.split("/").pop()) || value; } catch { name = value; }
      return h("figure", { class: "file" }, h("a", { href: value, target: "_blank", rel: "noopener noreferrer" }, name),
        h("figcaption", {}, `${label}: a file on another server, not shown here`));
    }
    const parsed = parseDataUri(value);
    if (!parsed) return h("pre", { class: "text" }, value);
    const kind = mediaKind(parsed.mime);
    const blob = new Blob([parsed.bytes], { type: kind ? parsed.mime : "application/octet-stream" });
    const url = URL.createObjectURL(blob);
    this.urls.push(url);
    const sub = parsed.mime.split("/")[1] ?? "bin";
    const name = `${label.replace(" ", "-")}.${EXTENSIONS[sub] ?? (/^[a-z0-9]{1,5}$/.test(sub) ? sub : "bin")}`;
    let preview = null;
    if (kind === "image") preview = h("img", { src: url, alt: `${label} (${parsed.mime})` });
    else if (kind === "audio") preview = h("audio", { src: url, controls: true, "aria-label": label });
    else if (kind === "video") preview = h("video", { src: url, controls: true, "aria-label": label });
    else if (isTextual(parsed.mime) && parsed.bytes.length <= TEXT_PREVIEW_BYTES) {
      const text = new TextDecoder().decode(parsed.bytes);
      let pretty = text;
      if (parsed.mime === "application/json") try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch { pretty = text; }
      preview = h("pre", { class: pretty === text ? "text" : "json" }, pretty);
    }
    return h("figure", { class: "file" }, preview,
      h("figcaption", {}, h("a", { href: url, download: name }, `Download ${name}`), ` ${parsed.mime} · ${formatBytes(parsed.bytes.length)}`));
  }
}
