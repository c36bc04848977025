"""JSON Schema -> the OpenAPI 3.0 subset Gemini accepts for function parameters.

Gemini refuses ``$ref``, ``$defs``, ``additionalProperties``, ``const``, ``oneOf``/``allOf``,
type arrays, ``exclusiveMinimum`` and most string formats. So: references are inlined
(cycles cut at a depth), ``["x", "null"]`` becomes ``x`` + ``nullable``, ``const`` a
one-value ``enum``, ``oneOf`` ``anyOf``, ``allOf`` is merged, and anything else unknown is
dropped. What is dropped only loosens the schema; it never makes a valid call invalid.
"""

from __future__ import annotations

from typing import Any, Final

_KEEP: Final = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "properties",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "anyOf",
        "items",
        "minimum",
        "maximum",
        "default",
        "propertyOrdering",
    }
)
#: The ``format`` values Gemini accepts, by type.
_FORMATS: Final = {
    "string": frozenset({"enum", "date-time"}),
    "integer": frozenset({"int32", "int64"}),
    "number": frozenset({"float", "double"}),
}
_MAX_DEPTH: Final = 12


def to_gemini_schema(schema: Any) -> dict[str, Any]:
    if not isinstance(schema, dict):
        return {"type": "object", "properties": {}}
    defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    out = _convert(schema, defs, 0)
    return out if isinstance(out, dict) else {"type": "object", "properties": {}}


def _convert(schema: Any, defs: dict[str, Any], depth: int) -> Any:
    if not isinstance(schema, dict):
        return schema
    if depth > _MAX_DEPTH:
        return {"type": "object"}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1])
        merged = {**(target if isinstance(target, dict) else {}), **schema}
        merged.pop("$ref")
        return _convert(merged, defs, depth + 1)
    schema = _merge_all_of(schema)
    out: dict[str, Any] = {}
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if len(kinds) < len(kind):
            out["nullable"] = True
        kind = kinds[0] if len(kinds) == 1 else None
        if kind is None and kinds:
            out["anyOf"] = [{"type": k} for k in kinds]
    if isinstance(kind, str):
        out["type"] = kind
    if "const" in schema:
        out["enum"] = [str(schema["const"])]
        out.setdefault("type", "string")
    for key, value in schema.items():
        if key not in _KEEP or key in ("type", "anyOf"):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {k: _convert(v, defs, depth + 1) for k, v in value.items()}
        elif key == "items":
            out[key] = _convert(value, defs, depth + 1)
        elif key == "format":
            if value in _FORMATS.get(str(kind), frozenset()):
                out[key] = value
        elif key == "enum" and isinstance(value, list):
            out[key] = [str(v) for v in value if v is not None]
            out.setdefault("type", "string")
        else:
            out[key] = value
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(alternatives, list):
        options = [a for a in alternatives if not (isinstance(a, dict) and a.get("type") == "null")]
        if len(options) < len(alternatives):
            out["nullable"] = True
        converted = [_convert(a, defs, depth + 1) for a in options]
        if len(converted) == 1 and isinstance(converted[0], dict):
            out = {**converted[0], **out}
        elif converted:
            out["anyOf"] = converted
    if out.get("type") == "string" and "enum" in out and "format" not in out:
        out["format"] = "enum"
    if isinstance(out.get("required"), list) and isinstance(out.get("properties"), dict):
        out["required"] = [r for r in out["required"] if r in out["properties"]]
    return out


def _merge_all_of(schema: dict[str, Any]) -> dict[str, Any]:
    parts = schema.get("allOf")
    if not isinstance(parts, list):
        return schema
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    for part in parts:
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged.setdefault(key, value)
    return merged
