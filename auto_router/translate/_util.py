"""Small helpers shared by the protocol modules: lenient reads of decoded JSON."""

from __future__ import annotations

import json
import secrets
from typing import Any

from ..errors import TranslationError


def obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TranslationError(f"{where}: expected an object")
    return value


def items(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TranslationError(f"{where}: expected an array")
    return value


def text_of(content: Any) -> str:
    """Text of a string or of a list of text parts (any protocol's shape)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                out.append(part["text"])
        return "".join(out)
    return json.dumps(content, ensure_ascii=False)


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def split_data_url(url: str) -> tuple[str, str] | None:
    """``data:image/png;base64,XXX`` -> ("image/png", "XXX")."""
    if not url.startswith("data:") or ";base64," not in url:
        return None
    head, data = url[5:].split(";base64,", 1)
    return head or "application/octet-stream", data


def args_object(arguments: str) -> dict[str, Any]:
    """Tool arguments (JSON text) as an object; broken JSON is kept under ``_raw``."""
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return {"_raw": arguments}
    return value if isinstance(value, dict) else {"_value": value}


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def sub(data: dict[str, Any], key: str) -> dict[str, Any]:
    """``data[key]`` when it is an object, else an empty one."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}
