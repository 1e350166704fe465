"""The OpenAPI 3.1 document FastAPI makes, rewritten as OpenAPI 3.0.3 for the packaged Swagger UI (4.x renders 3.0
only); `/openapi.json` itself stays 3.1."""

from __future__ import annotations

from typing import Any

OPENAPI_30 = "3.0.3"


def downgrade(document: dict[str, Any]) -> dict[str, Any]:
    """A 3.0.3 copy of `document`: `anyOf [X, null]` → X nullable, `examples` → `example`, `const` → `enum`,
    `type: [X, "null"]` → X nullable, and the 3.1-only keys dropped."""
    out = _schema(document)
    assert isinstance(out, dict)
    out["openapi"] = OPENAPI_30
    out.pop("webhooks", None)
    out.pop("jsonSchemaDialect", None)
    return out


def _schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _schema(value) for key, value in node.items()}
    for key in ("anyOf", "oneOf"):
        options = out.get(key)
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [option for option in options if option != {"type": "null"}]
            out.pop(key)
            if len(rest) == 1:
                merged = dict(rest[0]) if "$ref" not in rest[0] else {"allOf": [rest[0]]}
                out = {**merged, **out}
            else:
                out[key] = rest
            out["nullable"] = True
    kind = out.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        out["type"] = kinds[0] if len(kinds) == 1 else kinds
        if "null" in kind:
            out["nullable"] = True
    if "const" in out:
        out["enum"] = [out.pop("const")]
    examples = out.get("examples")
    if isinstance(examples, list) and "schema" not in out and "in" not in out and "content" not in out:
        # A schema's `examples` (a JSON-schema list) is 3.1; 3.0 has one `example`. Media types and parameters
        # keep their `examples` map (valid in 3.0).
        out.pop("examples")
        if examples:
            out["example"] = examples[0]
    for key in ("exclusiveMinimum", "exclusiveMaximum"):
        value = out.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            out[bound] = value
            out[key] = True
    return out
