// The page: reads the model's schema, builds a form per entry point (predict, train), runs it,
// shows the output and logs as they arrive, and keeps a history in this browser.

import { $, h, clear, formatSeconds, toast } from "./dom.js";
import { MODES, fields, hasMode, outputSchema } from "./schema.js";
import { InputForm } from "./form.js";
import { Dialect, RunError, apiUrl, fieldErrors, start } from "./run.js";
import { OutputView } from "./output.js";
import * as history from "./history.js";
import * as snippets from "./snippets.js";

const HEALTH_POLL_MS = 2000;

const state = { root: null, doc: null, dialect: null, settings: {}, forms: {}, mode: "predict", current: null };
const output = new OutputView($("#output"));

async function getJson(path) {
  const response = await fetch(apiUrl(path), { headers: { Accept: "application/json" } });
  if (!response.ok) throw new RunError(`GET /${path} answered ${response.status}: ${(await response.text()).slice(0, 300)}`, { status: response.status });
  return response.json();
}

function setStatus(text, tone = "") {
  const el = $("#status");
  el.textContent = text;
  el.className = `status ${tone}`;
}

function showError(message) {
  const box = $("#error");
  box.textContent = message ?? "";
  box.hidden = !message;
}

function setLogs(text) {
  $("#logs").textContent = text;
  $("#logs-empty").hidden = text !== "";
}

function appendLog(text) {
  const logs = $("#logs");
  const atBottom = logs.scrollHeight - logs.scrollTop - logs.clientHeight < 24;
  logs.append(text.endsWith("\n") ? text : text + "\n");
  $("#logs-empty").hidden = true;
  if (atBottom) logs.scrollTop = logs.scrollHeight;
}

// ----------------------------------------------------------------------------- server state

async function pollHealth() {
  clearTimeout(pollHealth.timer);
  let health;
  try {
    health = await getJson("health-check");
  } catch {
    health = { status: "UNREACHABLE" };
  }
  const status = String(health?.status ?? "UNKNOWN");
  const badge = $("#health");
  badge.textContent = status.toLowerCase().replace("_", " ");
  badge.className = `badge health-${status.toLowerCase()}`;
  if (status === "SETUP_FAILED" && !state.current) {
    showError("The model's setup failed; its logs are below.");
    setLogs(String(health?.setup?.logs ?? ""));
  }
  if (status !== "READY" && status !== "BUSY") pollHealth.timer = setTimeout(pollHealth, HEALTH_POLL_MS);
}

// ----------------------------------------------------------------------------- modes and forms

function selectMode(mode) {
  state.mode = mode;
  for (const button of document.querySelectorAll("#modes button")) button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
  for (const [name, form] of Object.entries(state.forms)) form.el.hidden = name !== mode;
  state.forms[mode]?.fitText();
  $("#inputs-title").textContent = mode === "predict" ? "Input" : "Training input";
}

function buildForms() {
  const slot = clear($("#form-slot"));
  const modes = Object.keys(MODES).filter((mode) => hasMode(state.doc, state.root, mode));
  if (modes.length === 0) {
    slot.append(h("p", { class: "muted" }, "This server's schema describes no inputs."));
    return;
  }
  for (const mode of modes) {
    state.forms[mode] = new InputForm(fields(state.doc, mode), { onSubmit: run });
    slot.append(state.forms[mode].el);
  }
  $("#modes").hidden = modes.length < 2;
  selectMode(modes[0]);
  $("#run").disabled = false;
  $("#reset").disabled = false;
}

// ----------------------------------------------------------------------------- running

async function run() {
  if (state.current || !state.forms[state.mode]) return;
  const mode = state.mode;
  const form = state.forms[mode];
  showError(null);
  const values = await form.read();
  if (!values) {
    setStatus("Check the highlighted inputs.", "bad");
    return;
  }
  output.reset(outputSchema(state.doc, mode));
  setLogs("");
  const startedAt = Date.now();
  const handle = start(mode, values.input, state.dialect, { log: appendLog, output: (value) => output.chunk(value) });
  state.current = handle;
  setTimeout(pollHealth, 300); // shows "busy" while it runs
  $("#run").disabled = true;
  $("#cancel").disabled = false;
  $("#results").setAttribute("aria-busy", "true");
  const tick = () => setStatus(`${handle.canceling ? "Canceling" : "Running"}… ${formatSeconds((Date.now() - startedAt) / 1000)}`, "busy");
  tick();
  const timer = setInterval(tick, 100);
  let prediction = null;
  try {
    prediction = await handle.done;
  } catch (e) {
    if (e.status === 422) {
      const errors = fieldErrors(e.detail);
      form.showErrors(errors);
      setStatus("The server rejected some inputs.", "bad");
      showError(errors.map(([name, message]) => (name ? `${name}: ${message}` : message)).join("\n"));
    } else {
      setStatus("Failed.", "bad");
      showError(e.message);
    }
  } finally {
    clearInterval(timer);
    state.current = null;
    $("#run").disabled = false;
    $("#cancel").disabled = true;
    $("#results").removeAttribute("aria-busy");
  }
  pollHealth();
  if (!prediction) return;
  const wallSeconds = (Date.now() - startedAt) / 1000;
  const secrets = new Set(form.fields.filter((f) => f.kind === "secret" || f.item?.kind === "secret").map((f) => f.name));
  const entry = history.record({ id: handle.id, mode, input: values.input, fileNames: values.fileNames, secrets, prediction, startedAt, wallSeconds });
  showRun(entry, prediction, false);
  history.add(entry);
  renderHistory();
}

async function cancel() {
  const handle = state.current;
  if (!handle) return;
  handle.canceling = true;
  $("#cancel").disabled = true;
  await handle.cancel();
}

// Show a finished run (the server's answer just now, or one from the history) in the output and logs panels.
function showRun(entry, { output: value, logs }, fromHistory) {
  if (fromHistory) output.reset(outputSchema(state.doc, entry.mode));
  if (fromHistory && entry.outputOmitted) {
    output.reset(null);
    $("#output").append(h("p", { class: "muted" }, "This output was too large to keep in the history."));
  } else if (value !== null && value !== undefined) {
    output.final(value);
  } else {
    output.final(null);
  }
  if (typeof logs === "string" && (logs || fromHistory)) setLogs(logs);
  const timing = [entry.wallSeconds ? formatSeconds(entry.wallSeconds) : null,
    entry.predictSeconds ? `model ${formatSeconds(entry.predictSeconds)}` : null];
  const prefix = fromHistory ? `From history (${new Date(entry.startedAt).toLocaleTimeString()}): ` : "";
  const took = timing[0] ? ` in ${timing[0]}${timing[1] ? ` (${timing[1]})` : ""}` : "";
  setStatus(`${prefix}${entry.status}${took}`, { succeeded: "good", canceled: "" }[entry.status] ?? "bad");
  showError(entry.error);
}

// ----------------------------------------------------------------------------- history

function summary(entry) {
  const parts = Object.entries(entry.input).map(([name, value]) => {
    const isFile = [value].flat().some((v) => typeof v === "string" && v.startsWith("data:"));
    const text = isFile ? entry.fileNames?.[name]?.join(", ") ?? "file" : JSON.stringify(value);
    return `${name}=${text.length > 40 ? text.slice(0, 39) + "…" : text}`;
  });
  for (const name of Object.keys(entry.omitted ?? {})) parts.push(`${name} (not kept)`);
  return parts.join(" · ") || "(no inputs)";
}

async function copy(text, what, pre) {
  pre.textContent = text;
  pre.hidden = false;
  try {
    await navigator.clipboard.writeText(text);
    toast(`Copied ${what}.`);
  } catch {
    getSelection().selectAllChildren(pre); // no clipboard here (e.g. plain http to another host): select it instead
    toast(`Select and copy the ${what} below.`);
  }
}

function load(entry) {
  if (!state.forms[entry.mode]) return false;
  selectMode(entry.mode);
  state.forms[entry.mode].fill(entry.input, entry.fileNames);
  return true;
}

function renderHistory() {
  const runs = history.load();
  const base = state.settings.upstream ?? document.baseURI;
  $("#no-runs").hidden = runs.length > 0;
  $("#clear-history").hidden = runs.length === 0;
  $("#runs").replaceChildren(...runs.map((entry) => {
    const pre = h("pre", { class: "snippet", hidden: true, tabindex: "0" });
    const verb = MODES[entry.mode]?.verb ?? "predict";
    const when = new Date(entry.startedAt);
    const button = (label, onclick) => h("button", { type: "button", onclick }, label);
    return h("li", { class: "run", "data-run": entry.id },
      h("div", { class: "run-head" },
        h("span", { class: `badge status-${entry.status}` }, entry.status),
        h("span", { class: "muted" }, verb),
        h("time", { datetime: when.toISOString() }, when.toLocaleString()),
        entry.wallSeconds ? h("span", { class: "muted" }, formatSeconds(entry.wallSeconds)) : null),
      h("p", { class: "run-inputs" }, summary(entry)),
      h("div", { class: "run-actions" },
        button("Show", () => { load(entry); showRun(entry, entry, true); $("#results").scrollIntoView({ block: "nearest" }); }),
        button("Re-run", () => { if (load(entry)) run(); }),
        button("Copy inputs", () => copy(JSON.stringify(snippets.commandInputs(entry), null, 2), "inputs", pre)),
        button("Copy as curl", () => copy(snippets.curl(entry, base), "curl command", pre)),
        button("Copy as Python", () => copy(snippets.python(entry, base), "Python code", pre)),
        button(`Copy as cogkit ${verb}`, () => copy(snippets.cogkit(entry), `cogkit ${verb} command`, pre))),
      pre);
  }));
}

// ----------------------------------------------------------------------------- start

async function main() {
  $("#run").addEventListener("click", run);
  $("#cancel").addEventListener("click", cancel);
  $("#reset").addEventListener("click", () => state.forms[state.mode]?.reset());
  $("#clear-history").addEventListener("click", () => { history.clearAll(); renderHistory(); });
  for (const button of document.querySelectorAll("#modes button")) button.addEventListener("click", () => selectMode(button.dataset.mode));
  pollHealth();
  try {
    state.settings = await getJson("playground/settings.json").catch(() => ({}));
    state.root = await getJson("./").catch(() => ({}));
    $("#server-name").textContent = `${state.root.cog_version ? `Cog ${state.root.cog_version}` : "Cog server"} at ${state.settings.upstream ?? location.host}`;
    state.doc = await getJson("openapi.json");
  } catch (e) {
    clear($("#form-slot")).append(h("p", { class: "alert" }, `Cannot read the model's schema: ${e.message}`));
    return;
  }
  state.dialect = new Dialect(state.root, state.doc);
  buildForms();
  history.useModel(Object.entries(state.forms).map(([mode, form]) => `${mode}(${form.fields.map((f) => `${f.name}:${f.kind}`)})`).join(";"));
  renderHistory();
}

main();
