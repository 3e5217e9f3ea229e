// Past runs, kept in this browser's localStorage: inputs, output, status, logs and timings.
// Secrets are never stored, and values too large for storage are left out and named as such.
// Each model (told apart by its inputs) has its own history, so one port serving different
// models over time never offers to re-run one model's inputs on another.

const PREFIX = "cogkit-playground:runs:v1";
const MAX_RUNS = 50;
const MAX_VALUE_CHARS = 512 * 1024; // one input or output bigger than this is not kept
const MAX_LOG_CHARS = 32 * 1024;
let key = PREFIX;

// FNV-1a of the model's input names and kinds: stable across restarts, different between models.
export function useModel(signature) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < signature.length; i++) hash = Math.imul(hash ^ signature.charCodeAt(i), 0x01000193) >>> 0;
  key = `${PREFIX}:${hash.toString(16)}`;
}

export function load() {
  try {
    const runs = JSON.parse(localStorage.getItem(key) ?? "[]");
    return Array.isArray(runs) ? runs.filter((run) => run && typeof run === "object" && typeof run.id === "string") : [];
  } catch {
    return [];
  }
}

function write(runs) {
  // Drop the oldest runs until the rest fit in the browser's quota.
  for (let kept = runs.slice(0, MAX_RUNS); kept.length; kept = kept.slice(0, -1)) {
    try {
      localStorage.setItem(key, JSON.stringify(kept));
      return kept;
    } catch {
      /* over quota: try with fewer */
    }
  }
  localStorage.removeItem(key);
  return [];
}

// What a finished run leaves in the history; `secrets` names the inputs never to keep.
export function record({ id, mode, input, fileNames, secrets, prediction, startedAt, wallSeconds }) {
  const kept = {}, omitted = {};
  for (const [name, value] of Object.entries(input)) {
    if (secrets.has(name)) omitted[name] = "secret, not stored";
    else if (JSON.stringify(value).length > MAX_VALUE_CHARS) omitted[name] = "too large to keep";
    else kept[name] = value;
  }
  const output = prediction?.output ?? null;
  const outputKept = JSON.stringify(output ?? null).length <= MAX_VALUE_CHARS;
  const logs = typeof prediction?.logs === "string" ? prediction.logs : "";
  return {
    id,
    mode,
    input: kept,
    omitted,
    fileNames,
    status: String(prediction?.status ?? "failed"),
    error: prediction?.error ? String(prediction.error) : null,
    output: outputKept ? output : null,
    outputOmitted: !outputKept,
    logs: logs.length > MAX_LOG_CHARS ? logs.slice(-MAX_LOG_CHARS) : logs,
    startedAt,
    wallSeconds,
    predictSeconds: Number(prediction?.metrics?.predict_time) || null,
  };
}

export function add(run) {
  return write([run, ...load().filter((r) => r.id !== run.id)]);
}

export function clearAll() {
  localStorage.removeItem(key);
}
