// A run as a command to paste: curl, Python (standard library only) and `cogkit predict`.
// Secrets and inputs the history did not keep appear as placeholders, never as values.

import { MODES } from "./schema.js";

export const shellQuote = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

// JSON → Python literal: JSON's string escapes are all valid in Python string literals.
export function pyLiteral(value, indent = "") {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return Number.isFinite(value) ? JSON.stringify(value) : "None";
  if (typeof value === "string") return JSON.stringify(value);
  const inner = indent + "    ";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((v) => inner + pyLiteral(v, inner)).join(",\n")},\n${indent}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return "{}";
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${pyLiteral(v, inner)}`).join(",\n")},\n${indent}}`;
}

// The inputs to show in a command: kept values, and a placeholder for each one left out.
export function commandInputs(run) {
  const input = { ...run.input };
  for (const [name, why] of Object.entries(run.omitted ?? {})) input[name] = `<${name}: ${why}>`;
  return input;
}

export function curl(run, base) {
  const body = JSON.stringify({ input: commandInputs(run) });
  return [`curl -s -X POST ${shellQuote(new URL(MODES[run.mode].endpoint, base).href)}`,
    "  -H 'Content-Type: application/json'", `  -d ${shellQuote(body)}`].join(" \\\n");
}

export function python(run, base) {
  const url = new URL(MODES[run.mode].endpoint, base).href;
  return `import json
import urllib.request

inputs = ${pyLiteral(commandInputs(run))}
request = urllib.request.Request(
    ${JSON.stringify(url)},
    data=json.dumps({"input": inputs}).encode(),
    headers={"Content-Type": "application/json"},
)
with urllib.request.urlopen(request) as response:
    ${MODES[run.mode].noun} = json.load(response)
print(${MODES[run.mode].noun}["status"], ${MODES[run.mode].noun}.get("output"))
`;
}

export function cogkit(run) {
  const words = ["cogkit", MODES[run.mode].verb];
  const input = commandInputs(run);
  const complex = Object.values(input).some((v) => v !== null && typeof v === "object" && !Array.isArray(v));
  if (complex) return [...words, "--json", shellQuote(JSON.stringify(input))].join(" ");
  for (const [name, value] of Object.entries(input)) {
    const values = Array.isArray(value) ? value : [value];
    values.forEach((v, i) => {
      const isFile = typeof v === "string" && v.startsWith("data:");
      const text = isFile ? `@${run.fileNames?.[name]?.[i] ?? "FILE"}` : typeof v === "string" ? v : JSON.stringify(v);
      words.push("-i", shellQuote(`${name}=${text}`));
    });
  }
  return words.join(" ");
}
