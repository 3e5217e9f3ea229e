// One run against any Cog server: `PUT /predictions/{id}` (so it can be canceled by id), as a
// server-sent event stream where the server offers one, else as one synchronous request.
//
// cogkit streams any prediction when asked with `Accept: text/event-stream`; coglet streams only
// models its schema marks `x-cog-streaming` (and wraps each chunk as {chunk, index}); older Cog
// never streams. `Dialect` holds those differences, read from GET / and /openapi.json.

import { MODES, marksStreaming } from "./schema.js";

const CANCEL_PATIENCE_MS = 30000; // after a cancel, how long to wait for the server's final answer

export class Dialect {
  constructor(root, doc) {
    this.cogkit = Boolean(root && "cogkit_version" in root);
    this.schemaStreams = marksStreaming(doc?.paths?.["/predictions"]);
  }

  streams(mode) {
    return this.cogkit || (mode === "predict" && this.schemaStreams);
  }

  chunk(data) {
    if (!this.cogkit && data && typeof data === "object" && !Array.isArray(data) && "chunk" in data) return data.chunk;
    return data;
  }
}

export function logText(data) {
  if (typeof data === "string") return data;
  if (data && typeof data === "object") return String(data.data ?? data.message ?? data.log ?? "");
  return "";
}

export class RunError extends Error {
  constructor(message, { status = 0, detail = null } = {}) {
    super(message);
    this.status = status;
    this.detail = detail;
  }
}

export function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return "pg" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export const apiUrl = (path) => new URL(path, document.baseURI).href;

async function errorFrom(response) {
  const text = await response.text();
  let body = null;
  try { body = JSON.parse(text); } catch { body = null; }
  const detail = body?.detail ?? body?.error ?? text.slice(0, 500);
  const message = typeof detail === "string" ? detail : `${response.status} ${response.statusText}`;
  return new RunError(message || `${response.status} ${response.statusText}`, { status: response.status, detail });
}

// Split a text/event-stream body into {event, data} records as they arrive.
async function* events(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: data.join("\n") };
    }
  }
}

// Start a run; `on.log(text)`, `on.output(value)` fire as they arrive. `done` resolves to Cog's
// final prediction object, or rejects with a RunError (a 422's `detail` names the fields).
export function start(mode, input, dialect, on) {
  const id = newId();
  const endpoint = MODES[mode].endpoint;
  const stream = dialect.streams(mode);
  const aborter = new AbortController();
  let canceled = false;

  const done = (async () => {
    const response = await fetch(apiUrl(`${endpoint}/${id}`), {
      method: "PUT",
      headers: { "Content-Type": "application/json", Accept: stream ? "text/event-stream" : "application/json" },
      body: JSON.stringify({ input }),
      signal: aborter.signal,
    });
    if (!response.ok) throw await errorFrom(response);
    if (!(response.headers.get("content-type") ?? "").startsWith("text/event-stream")) return response.json();
    for await (const { event, data } of events(response.body)) {
      let value;
      try { value = JSON.parse(data); } catch { value = data; }
      if (event === "output") on.output(dialect.chunk(value));
      else if (event === "log") on.log(logText(value));
      else if (event === "completed") return value;
    }
    throw new RunError(canceled ? "canceled" : "the server closed the stream before the run completed");
  })().catch((e) => {
    if (e.name === "AbortError") return { id, status: "canceled", error: "canceled (the server did not confirm in time)" };
    throw e instanceof RunError ? e : new RunError(`cannot reach the server: ${e.message}`);
  });

  async function cancel() {
    if (canceled) return;
    canceled = true;
    const timer = setTimeout(() => aborter.abort(), CANCEL_PATIENCE_MS);
    done.finally(() => clearTimeout(timer)).catch(() => {});
    // A 404 can mean the PUT has not reached the server yet: try again a few times.
    for (let attempt = 0; attempt < 4; attempt++) {
      const response = await fetch(apiUrl(`${endpoint}/${id}/cancel`), { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })
        .catch(() => null);
      if (response?.ok) return;
      if (response?.status !== 404) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    aborter.abort(); // the server cannot cancel it: stop waiting for it
  }

  return { id, stream, done, cancel };
}

// FastAPI-style 422 `detail` → [[field, message]] ("" when it names no input field).
export function fieldErrors(detail) {
  if (!Array.isArray(detail)) return [["", String(detail ?? "invalid input")]];
  return detail.map((entry) => {
    const loc = Array.isArray(entry?.loc) ? entry.loc : [];
    const at = loc[0] === "body" && loc[1] === "input" ? 2 : loc[0] === "body" ? 1 : 0;
    const name = loc.length > at && at > 0 ? String(loc[at]) : "";
    return [name, String(entry?.msg ?? "is invalid")];
  });
}
