// Validates Kubernetes objects against the API's JSON schemas, as bundled by kubernetes-models (ajv underneath).
// Input on stdin: a JSON array of objects. Output on stdout: one JSON line per object,
// {"index": i, "kind": ..., "result": "valid" | "invalid" | "unknown-kind", "errors": "..."}.
// Kinds outside the core API (custom resources such as PodMonitor or cert-manager's Certificate) are "unknown-kind".
import { readFileSync } from "node:fs";

const objects = JSON.parse(readFileSync(0, "utf8"));
for (const [index, obj] of objects.entries()) {
  const apiVersion = String(obj.apiVersion ?? "");
  const kind = String(obj.kind ?? "");
  const out = { index, kind };
  if (!/^[A-Za-z0-9.\/-]+$/.test(apiVersion) || !/^[A-Za-z]+$/.test(kind)) {
    out.result = "invalid";
    out.errors = `apiVersion '${apiVersion}' / kind '${kind}' missing or malformed`;
  } else {
    let model;
    try {
      model = await import(`kubernetes-models/${apiVersion}/${kind}`);
    } catch (e) {
      model = null;
    }
    const Model = model && model[kind];
    if (!Model) {
      out.result = "unknown-kind";
    } else {
      try {
        new Model(obj).validate();
        out.result = "valid";
      } catch (e) {
        out.result = "invalid";
        out.errors = String(e.message ?? e);
      }
    }
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}
