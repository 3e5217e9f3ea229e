// The input form: one labelled control per schema field, values read back as a Cog `input`
// object, checked against the schema's constraints before anything is sent.

import { h, uniqueId, formatBytes } from "./dom.js";

export const FILE_LIMIT_BYTES = 50 * 1024 * 1024; // data URIs past this are better sent as URLs

const TYPE_NAMES = { string: "string", integer: "integer", number: "number", boolean: "boolean", choice: "choice",
  file: "file", secret: "secret", json: "JSON" };

export function typeName(field) {
  return field.kind === "list" ? `list of ${TYPE_NAMES[field.item.kind]}` : TYPE_NAMES[field.kind];
}

// The schema's limits on one value, or null when it satisfies them.
export function violation(value, s) {
  if (typeof value === "number") {
    if (s.type === "integer" && !Number.isInteger(value)) return "must be a whole number";
    if (s.minimum !== undefined && value < s.minimum) return `must be at least ${s.minimum}`;
    if (s.maximum !== undefined && value > s.maximum) return `must be at most ${s.maximum}`;
    if (s.exclusiveMinimum !== undefined && value <= s.exclusiveMinimum) return `must be more than ${s.exclusiveMinimum}`;
    if (s.exclusiveMaximum !== undefined && value >= s.exclusiveMaximum) return `must be less than ${s.exclusiveMaximum}`;
  }
  if (typeof value === "string" && s.type === "string" && s.format !== "uri") {
    if (s.minLength !== undefined && value.length < s.minLength) return `needs at least ${s.minLength} characters`;
    if (s.maxLength !== undefined && value.length > s.maxLength) return `allows at most ${s.maxLength} characters`;
    if (typeof s.pattern === "string") {
      let re = null;
      try { re = new RegExp(s.pattern, "u"); } catch { re = null; } // a pattern JS cannot read: the server checks it
      if (re && !re.test(value)) return `must match the pattern ${s.pattern}`;
    }
  }
  if (Array.isArray(s.enum) && !s.enum.includes(value)) return `must be one of ${s.enum.join(", ")}`;
  return null;
}

export function constraintText(field) {
  const s = field.kind === "list" ? field.item : field.schema;
  const parts = [];
  if (s.minimum !== undefined) parts.push(`min ${s.minimum}`);
  if (s.maximum !== undefined) parts.push(`max ${s.maximum}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`more than ${s.exclusiveMinimum}`);
  if (s.exclusiveMaximum !== undefined) parts.push(`less than ${s.exclusiveMaximum}`);
  if (s.minLength !== undefined) parts.push(`at least ${s.minLength} characters`);
  if (s.maxLength !== undefined) parts.push(`at most ${s.maxLength} characters`);
  if (typeof s.pattern === "string") parts.push(`pattern ${s.pattern}`);
  if (field.kind === "list") parts.push(field.item.kind === "file" ? "several files allowed" : "one per line");
  const shown = JSON.stringify(field.default);
  if (field.hasDefault && field.kind !== "secret") parts.push(`default ${shown.length > 48 ? shown.slice(0, 47) + "…" : shown}`);
  return parts.join(" · ");
}

class Invalid extends Error {}

// Grow a textarea with its text (CSSOM, which the page's CSP allows), up to the stylesheet's max-height.
function fit(textarea) {
  if (!textarea.offsetParent) return; // not laid out (a hidden form): fitted when shown
  textarea.style.height = "auto";
  textarea.style.height = `${textarea.scrollHeight + 2}px`;
}

function parseScalar(text, kind) {
  if (kind === "integer" || kind === "number") {
    const n = Number(text);
    if (text.trim() === "" || !Number.isFinite(n)) throw new Invalid(`${JSON.stringify(text)} is not a number`);
    return n;
  }
  return text;
}

function readFile(file) {
  return new Promise((resolve, reject) => {
    if (file.size > FILE_LIMIT_BYTES) {
      reject(new Invalid(`${file.name} is ${formatBytes(file.size)}; the playground sends files up to ${formatBytes(FILE_LIMIT_BYTES)} (pass a URL instead)`));
      return;
    }
    const reader = new FileReader();
    reader.onload = () => resolve({ uri: reader.result, name: file.name, size: file.size });
    reader.onerror = () => reject(new Invalid(`cannot read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

// One field's widget. `read()` returns the value to send (undefined: leave it out) or throws Invalid.
function control(field, id, describedBy) {
  const common = { id, name: field.name, "aria-describedby": describedBy };
  const kind = field.kind === "list" && field.item.kind !== "file" ? "lines" : field.kind;
  switch (kind) {
    case "boolean": {
      const el = h("input", { ...common, type: "checkbox" });
      return { el, focus: el, read: () => el.checked, write: (v) => (el.checked = v === true) };
    }
    case "choice": {
      const options = field.schema.enum;
      const el = h("select", common,
        field.hasDefault ? null : h("option", { value: "" }, field.required ? "choose…" : "(none)"),
        options.map((choice, i) => h("option", { value: String(i) }, String(choice))));
      return {
        el, focus: el,
        read: () => (el.value === "" ? undefined : options[Number(el.value)]),
        write: (v) => (el.value = options.includes(v) ? String(options.indexOf(v)) : ""),
      };
    }
    case "integer":
    case "number": {
      const s = field.schema;
      const el = h("input", { ...common, type: "number", inputmode: kind === "integer" ? "numeric" : "decimal",
        step: kind === "integer" ? "1" : "any", min: s.minimum, max: s.maximum });
      return {
        el, focus: el,
        read: () => {
          if (el.validity.badInput) throw new Invalid("is not a number");
          return el.value === "" ? undefined : parseScalar(el.value, kind);
        },
        write: (v) => (el.value = typeof v === "number" ? String(v) : ""),
      };
    }
    case "secret": {
      const el = h("input", { ...common, type: "password", autocomplete: "off", spellcheck: "false" });
      return { el, focus: el, read: () => (el.value === "" ? undefined : el.value), write: (v) => (el.value = typeof v === "string" ? v : "") };
    }
    case "lines":
    case "json":
    case "string": {
      const el = h("textarea", { ...common, rows: 1, spellcheck: kind === "string" ? null : "false", oninput: () => fit(el) });
      const read = () => {
        if (kind === "string") return el.value === "" ? undefined : el.value;
        if (el.value.trim() === "") return undefined;
        if (kind === "json") {
          try { return JSON.parse(el.value); } catch { throw new Invalid("is not valid JSON"); }
        }
        if (field.item.kind === "choice") {
          return el.value.split("\n").filter((line) => line.trim() !== "").map((line) => {
            const choice = field.item.enum.find((option) => String(option) === line.trim());
            if (choice === undefined) throw new Invalid(`${JSON.stringify(line)} is not one of ${field.item.enum.join(", ")}`);
            return choice;
          });
        }
        return el.value.split("\n").filter((line) => line.trim() !== "").map((line) => parseScalar(line.trim(), field.item.kind));
      };
      const write = (v) => {
        if (kind === "string") el.value = typeof v === "string" ? v : "";
        else if (kind === "json") el.value = v === undefined || v === null ? "" : JSON.stringify(v, null, 2);
        else el.value = Array.isArray(v) ? v.join("\n") : "";
        requestAnimationFrame(() => fit(el));
      };
      return { el, focus: el, read, write };
    }
    case "file":
    case "list":
      return fileControl(field, common);
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

// A file field: choose or drop files (sent as data URIs), or type a URL.
function fileControl(field, common) {
  const multiple = field.kind === "list";
  // The native input stays (focusable, labelled by the field's name) but is drawn as the button
  // beside it: its own "No file chosen" text would contradict the list of files read so far.
  const input = h("input", { ...common, type: "file", multiple, class: "visually-hidden" });
  const button = h("label", { for: common.id, class: "button" }, multiple ? "Choose files" : "Choose a file");
  const url = h("input", { type: "url", name: `${field.name}-url`, placeholder: multiple ? "or URLs, one per line…" : "or a URL: https://…",
    "aria-label": `${field.name} URL`, "aria-describedby": common["aria-describedby"] });
  const chosen = h("ul", { class: "chosen" });
  const drop = h("div", { class: "drop" }, h("div", { class: "drop-row" }, input, button, h("span", { class: "drop-text" }, multiple ? "or drop files here" : "or drop a file here")), chosen, url);
  let files = [];
  let pending = Promise.resolve();

  const show = () => {
    chosen.replaceChildren(...files.map((file, i) => h("li", {},
      h("span", { class: "file-name" }, file.name), ` ${file.size === null ? "from history" : formatBytes(file.size)} `,
      h("button", { type: "button", class: "link", "aria-label": `remove ${file.name}`, onclick: () => { files.splice(i, 1); show(); } }, "remove"))));
  };
  const take = (list) => {
    const chosenFiles = Array.from(list).slice(0, multiple ? 64 : 1);
    pending = Promise.all(chosenFiles.map(readFile)).then((read) => {
      files = multiple ? files.concat(read) : read;
      url.value = "";
      show();
    });
    pending.catch(() => {}); // reported when the form is read
    return pending;
  };
  input.addEventListener("change", () => take(input.files).finally(() => (input.value = "")));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer?.files?.length) take(e.dataTransfer.files);
  });
  return {
    el: drop, focus: input,
    read: async () => {
      await pending;
      const urls = url.value.split("\n").map((line) => line.trim()).filter(Boolean);
      for (const u of urls) if (!/^(https?:|data:)/i.test(u)) throw new Invalid(`${JSON.stringify(u)} is not an http(s) URL`);
      const values = files.map((file) => file.uri).concat(urls);
      if (values.length === 0) return undefined;
      return multiple ? values : values[0];
    },
    fileNames: () => files.map((file) => file.name),
    write: (value, names = []) => {
      const values = (Array.isArray(value) ? value : value ? [value] : []).filter((v) => typeof v === "string");
      files = values.filter((v) => v.startsWith("data:")).map((uri, i) => ({ uri, name: names[i] || `file ${i + 1}`, size: null }));
      url.value = values.filter((v) => !v.startsWith("data:")).join("\n");
      pending = Promise.resolve();
      show();
    },
  };
}

export class InputForm {
  constructor(fieldList, { onSubmit }) {
    this.fields = fieldList;
    this.controls = new Map();
    this.el = h("form", { class: "fields", novalidate: true, onsubmit: (e) => { e.preventDefault(); onSubmit(); } });
    for (const field of fieldList) this.el.append(this.render(field));
    this.el.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); onSubmit(); }
    });
    this.reset();
  }

  render(field) {
    const id = uniqueId(`field-${field.name.replace(/[^\w-]/g, "_")}`);
    const hintId = `${id}-hint`, errorId = `${id}-error`;
    const c = control(field, id, `${hintId} ${errorId}`);
    const error = h("p", { class: "error", id: errorId, hidden: true });
    this.controls.set(field.name, { ...c, field, error });
    const constraints = constraintText(field);
    return h("div", { class: `field kind-${field.kind}`, "data-field": field.name },
      h("label", { for: id },
        h("span", { class: "name" }, field.name), " ",
        h("span", { class: "type" }, typeName(field)),
        field.required ? h("span", { class: "required" }, " required") : null),
      c.el,
      h("div", { class: "hint", id: hintId },
        field.description ? h("p", {}, field.description) : null,
        constraints ? h("p", { class: "constraints" }, constraints) : null),
      error);
  }

  reset() {
    for (const { field, write } of this.controls.values()) write(field.hasDefault ? field.default : undefined);
    this.clearErrors();
  }

  fill(input, fileNames = {}) {
    for (const { field, write } of this.controls.values()) {
      write(field.name in input ? input[field.name] : field.hasDefault ? field.default : undefined, fileNames[field.name]);
    }
    this.clearErrors();
  }

  clearErrors() {
    for (const { error, focus } of this.controls.values()) {
      error.hidden = true;
      error.textContent = "";
      focus.removeAttribute("aria-invalid");
    }
  }

  fitText() {
    for (const textarea of this.el.querySelectorAll("textarea")) fit(textarea);
  }

  // Show each [name, message] on its field (those naming no field are left to the caller).
  showErrors(messages) {
    let first = null;
    for (const [name, message] of messages) {
      const c = this.controls.get(name);
      if (!c) continue;
      c.error.textContent = `${name}: ${message}`;
      c.error.hidden = false;
      c.focus.setAttribute("aria-invalid", "true");
      first ??= c.focus;
    }
    first?.focus();
  }

  // {input, fileNames} when every field is valid, else null (the errors are shown).
  async read() {
    this.clearErrors();
    const input = {}, fileNames = {}, problems = [];
    for (const { field, read, fileNames: names } of this.controls.values()) {
      let value;
      try {
        value = await read();
      } catch (e) {
        if (!(e instanceof Invalid)) throw e;
        problems.push([field.name, e.message]);
        continue;
      }
      if (value === undefined) {
        if (field.required) problems.push([field.name, "is required"]);
        continue;
      }
      const s = field.kind === "list" ? field.item : field.schema;
      const bad = (Array.isArray(value) && field.kind === "list" ? value : [value]).map((v) => violation(v, s)).find(Boolean);
      if (bad) { problems.push([field.name, bad]); continue; }
      input[field.name] = value;
      if (names?.().length) fileNames[field.name] = names();
    }
    if (problems.length) { this.showErrors(problems); return null; }
    return { input, fileNames };
  }
}
