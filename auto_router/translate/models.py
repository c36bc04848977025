"""Model lists (``GET /v1/models`` and friends) from one protocol's shape to another's."""

from __future__ import annotations

from typing import Any


def model_ids(data: Any) -> list[str]:
    """The model names of an OpenAI, Anthropic or Gemini model list."""
    if not isinstance(data, dict):
        return []
    ids: list[str] = []
    for entry in data.get("data") or []:  # OpenAI and Anthropic
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            ids.append(entry["id"])
    for entry in data.get("models") or []:  # Gemini: "models/gemini-2.5-pro"
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            ids.append(entry["name"].removeprefix("models/"))
    return ids


def build_list(api: str, ids: list[str], owner: str) -> dict[str, Any]:
    if api == "anthropic":
        data = [
            {"type": "model", "id": i, "display_name": i, "created_at": "1970-01-01T00:00:00Z"}
            for i in ids
        ]
        return {
            "data": data,
            "has_more": False,
            "first_id": ids[0] if ids else None,
            "last_id": ids[-1] if ids else None,
        }
    if api == "gemini":
        return {"models": [{"name": f"models/{i}", "displayName": i} for i in ids]}
    return {
        "object": "list",
        "data": [{"id": i, "object": "model", "created": 0, "owned_by": owner} for i in ids],
    }
