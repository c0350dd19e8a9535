// The API's reference, drawn from /openapi.json on this server (nothing fetched from elsewhere).
// Every text from the spec is shown through textContent.
"use strict";

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text != null) node.textContent = text;
  return node;
}

// the docstrings' ``literal`` spans as <code>, the rest as text (never parsed as HTML)
function prose(tag, text) {
  const node = el(tag);
  String(text).split("``").forEach((part, i) => node.append(i % 2 ? el("code", null, part) : part));
  return node;
}

function schemaOf(spec, schema) {
  if (schema && schema.$ref) return spec.components.schemas[schema.$ref.split("/").pop()];
  return schema || {};
}

function typeText(s) {
  if (!s) return "";
  if (s.anyOf) return s.anyOf.map(typeText).filter((t) => t !== "null").join(" or ") || "any";
  if (s.type === "array") return `list of ${typeText(s.items)}`;
  if (s.format === "binary" || s.contentMediaType) return "file";
  return s.type || "";
}

window.addEventListener("DOMContentLoaded", async () => {
  const root = document.getElementById("api");
  const spec = await (await fetch("/openapi.json")).json();
  const intro = prose("p", spec.info.description || "");
  intro.className = "hint";
  root.append(intro);
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const card = el("section", "panel");
      card.append(el("h2", null, `${method.toUpperCase()} ${path}`));
      card.append(prose("p", op.description || op.summary || ""));
      const rows = [];
      for (const p of op.parameters || []) rows.push([p.name, p.in, typeText(p.schema), p.description || ""]);
      const body = op.requestBody && op.requestBody.content;
      if (body) {
        for (const [type, media] of Object.entries(body)) {
          const s = schemaOf(spec, media.schema);
          for (const [name, prop] of Object.entries(s.properties || {})) {
            rows.push([name, type, typeText(prop), prop.description || ""]);
          }
        }
      }
      if (rows.length) {
        const table = el("table", "objects");
        const head = el("tr");
        for (const h of ["field", "in", "type", "what"]) head.append(el("th", null, h));
        table.append(head);
        for (const r of rows) {
          const tr = el("tr");
          for (const c of r) tr.append(prose("td", c));
          table.append(tr);
        }
        card.append(table);
      }
      root.append(card);
    }
  }
});
