// What the form needs from a Cog OpenAPI document: one field per input, in x-order, with its
// kind, constraints and default. Works on the documents of cogkit, coglet and older Cog alike.

export const MODES = {
  predict: { noun: "prediction", endpoint: "predictions", input: "Input", output: "Output", verb: "predict" },
  train: { noun: "training", endpoint: "trainings", input: "TrainingInput", output: "TrainingOutput", verb: "train" },
};

const REF = "#/components/schemas/";

function resolve(doc, schema) {
  const components = doc?.components?.schemas ?? {};
  let merged = { ...schema };
  const refs = [schema.$ref, ...(schema.allOf ?? []).map((part) => part.$ref)].filter(Boolean);
  for (const ref of refs) {
    if (!ref.startsWith(REF)) continue;
    const { description, title, ...shape } = components[ref.slice(REF.length)] ?? {}; // the enum's own words, not the field's
    merged = { ...shape, ...merged };
  }
  // Optional[X] from pydantic 2: anyOf [X, {type: null}].
  const options = merged.anyOf?.filter((part) => part.type !== "null");
  if (options?.length === 1) {
    merged = { ...resolve(doc, options[0]), ...merged, nullable: true };
    delete merged.anyOf;
  }
  delete merged.allOf;
  delete merged.$ref;
  return merged;
}

function kindOf(schema) {
  if (Array.isArray(schema.enum)) return "choice";
  if (schema.type === "string" && schema.format === "uri") return "file";
  if (schema.type === "string" && (schema.format === "password" || schema["x-cog-secret"])) return "secret";
  if (["string", "integer", "number", "boolean"].includes(schema.type)) return schema.type;
  return "json";
}

export function fields(doc, mode) {
  const component = doc?.components?.schemas?.[MODES[mode].input];
  if (!component) return null;
  const required = new Set(component.required ?? []);
  const list = Object.entries(component.properties ?? {}).map(([name, raw]) => {
    const schema = resolve(doc, raw);
    let kind = kindOf(schema);
    let item = null;
    if (schema.type === "array") {
      const items = resolve(doc, schema.items ?? {});
      const itemKind = kindOf(items);
      if (itemKind !== "json" && itemKind !== "boolean") {
        kind = "list";
        item = { ...items, kind: itemKind };
      }
    }
    return {
      name,
      kind,
      item,
      schema,
      description: typeof schema.description === "string" ? schema.description : "",
      required: required.has(name),
      hasDefault: "default" in schema && schema.default !== null,
      default: schema.default ?? null,
      order: Number.isFinite(schema["x-order"]) ? schema["x-order"] : 1e6,
    };
  });
  return list.sort((a, b) => a.order - b.order);
}

export function outputSchema(doc, mode) {
  const schema = doc?.components?.schemas?.[MODES[mode].output];
  return schema ? resolve(doc, schema) : null;
}

// An output that arrives in pieces (a generator): each SSE `output` event is one more item.
export function isIterator(schema) {
  return schema?.type === "array" && schema["x-cog-array-type"] === "iterator";
}

export function isConcatenated(schema) {
  return isIterator(schema) && schema["x-cog-array-display"] === "concatenate";
}

export function hasMode(doc, root, mode) {
  if (mode === "predict") return Boolean(doc?.components?.schemas?.Input);
  return Boolean(doc?.paths?.["/trainings"] || root?.trainings_url) && Boolean(doc?.components?.schemas?.TrainingInput);
}

// Does any key named `x-cog-streaming` hold a true value inside this part of the document?
export function marksStreaming(node) {
  if (!node || typeof node !== "object") return false;
  return Object.entries(node).some(([key, value]) => (key === "x-cog-streaming" && value === true) || marksStreaming(value));
}
