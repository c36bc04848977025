"""Gemini generateContent <-> the internal shape: requests, responses, stream transducers.

Gemini's differences that matter: function calls carry no id (ids are made up in order and
matched back by name), ``functionResponse.response`` must be an object, a function call
arrives whole (so a client speaking Gemini gets each call when its arguments are complete),
and tool parameters use an OpenAPI subset of JSON Schema (``schema.py`` converts).
"""

from __future__ import annotations

import json
from typing import Any, Final

from ._util import args_object, integer, items, new_id, number, obj, sub, text_of
from .model import (
    CONTENT_FILTER,
    LENGTH,
    STOP,
    TOOL_CALLS,
    Image,
    Message,
    Part,
    Request,
    Response,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolResult,
    Usage,
    effort_to_budget,
)
from .schema import to_gemini_schema

_KNOWN: Final = frozenset(
    {
        "contents",
        "systemInstruction",
        "system_instruction",
        "tools",
        "toolConfig",
        "generationConfig",
    }
)
_KNOWN_CONFIG: Final = frozenset(
    {"maxOutputTokens", "temperature", "topP", "stopSequences", "thinkingConfig", "candidateCount"}
)
_FINISH_IN: Final = {"STOP": STOP, "MAX_TOKENS": LENGTH}
_FILTERED: Final = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)
FINISH_OUT: Final = {
    STOP: "STOP",
    TOOL_CALLS: "STOP",
    LENGTH: "MAX_TOKENS",
    CONTENT_FILTER: "SAFETY",
}
#: Keys a client may use for a function result's text inside ``response``.
_RESULT_KEYS: Final = ("content", "output", "result")

# ------------------------------------------------------------------ requests


def parse_request(data: dict[str, Any], model: str | None = None, stream: bool = False) -> Request:
    req = Request(model=model, stream=stream)
    system = data.get("systemInstruction") or data.get("system_instruction")
    if isinstance(system, dict):
        req.system = text_of(system.get("parts")) or None
    elif isinstance(system, str):
        req.system = system or None
    ids = _CallIds()
    for i, raw in enumerate(items(data.get("contents"), "contents")):
        content = obj(raw, f"contents[{i}]")
        role = "assistant" if content.get("role") == "model" else "user"
        parts = _parts(content.get("parts"), ids, req.dropped)
        if req.messages and req.messages[-1].role == role:
            req.messages[-1].parts.extend(parts)
        else:
            req.messages.append(Message(role, parts))
    for raw in items(data.get("tools"), "tools"):
        if not isinstance(raw, dict):
            continue
        for key in raw:
            if key not in ("functionDeclarations", "function_declarations"):
                req.dropped.append(f"tools[{key}]")
        for decl in raw.get("functionDeclarations") or raw.get("function_declarations") or []:
            if isinstance(decl, dict) and isinstance(decl.get("name"), str):
                schema = decl.get("parametersJsonSchema") or decl.get("parameters")
                req.tools.append(
                    Tool(
                        decl["name"],
                        str(decl.get("description") or ""),
                        _from_openapi(schema) if schema else {"type": "object", "properties": {}},
                    )
                )
    _tool_config(req, data.get("toolConfig"))
    _generation_config(req, data.get("generationConfig"))
    req.dropped.extend(k for k in data if k not in _KNOWN)
    return req


class _CallIds:
    """Ids for id-less function calls, and each response matched to its call by name."""

    def __init__(self) -> None:
        self._count = 0
        self._open: list[tuple[str, str]] = []

    def call(self, name: str, given: Any) -> str:
        call_id = given if isinstance(given, str) and given else f"call_{self._count}"
        self._count += 1
        self._open.append((name, call_id))
        return call_id

    def result(self, name: str, given: Any) -> str:
        if isinstance(given, str) and given:
            self._open = [c for c in self._open if c[1] != given]
            return given
        for i, (open_name, call_id) in enumerate(self._open):
            if open_name == name:
                del self._open[i]
                return call_id
        return f"call_{name}"


def _parts(raw: Any, ids: _CallIds, dropped: list[str]) -> list[Part]:
    parts: list[Part] = []
    for part in items(raw, "parts"):
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            parts.append(Thinking(part["text"]) if part.get("thought") else Text(part["text"]))
        elif isinstance(part.get("inlineData"), dict):
            inline = part["inlineData"]
            parts.append(
                Image(data=str(inline.get("data") or ""), media_type=inline.get("mimeType"))
            )
        elif isinstance(part.get("fileData"), dict):
            parts.append(Image(url=str(part["fileData"].get("fileUri") or "")))
        elif isinstance(part.get("functionCall"), dict):
            call = part["functionCall"]
            name = str(call.get("name") or "")
            arguments = json.dumps(call.get("args") or {}, ensure_ascii=False)
            parts.append(ToolCall(ids.call(name, call.get("id")), name, arguments))
        elif isinstance(part.get("functionResponse"), dict):
            result = part["functionResponse"]
            name = str(result.get("name") or "")
            parts.append(
                ToolResult(
                    ids.result(name, result.get("id")),
                    _result_text(result.get("response")),
                    name=name,
                )
            )
        else:
            dropped.extend(f"parts[{k}]" for k in part if k != "thoughtSignature")
    return parts


def _result_text(response: Any) -> str:
    if isinstance(response, dict):
        for key in _RESULT_KEYS:
            if isinstance(response.get(key), str) and len(response) == 1:
                return str(response[key])
    return json.dumps(response, ensure_ascii=False)


def _from_openapi(schema: Any) -> Any:
    """Gemini's upper-case ``type`` names back to JSON Schema's."""
    if isinstance(schema, dict):
        out = {k: _from_openapi(v) for k, v in schema.items()}
        if isinstance(out.get("type"), str):
            out["type"] = out["type"].lower()
        return out
    if isinstance(schema, list):
        return [_from_openapi(v) for v in schema]
    return schema


def _tool_config(req: Request, config: Any) -> None:
    calling = config.get("functionCallingConfig") if isinstance(config, dict) else None
    if not isinstance(calling, dict):
        return
    mode = calling.get("mode")
    allowed = calling.get("allowedFunctionNames")
    if mode == "NONE":
        req.tool_choice = "none"
    elif mode == "AUTO":
        req.tool_choice = "auto"
    elif mode == "ANY":
        if isinstance(allowed, list) and len(allowed) == 1 and isinstance(allowed[0], str):
            req.tool_choice, req.tool_name = "tool", allowed[0]
        else:
            req.tool_choice = "required"


def _generation_config(req: Request, config: Any) -> None:
    if not isinstance(config, dict):
        return
    req.max_tokens = integer(config.get("maxOutputTokens"))
    req.temperature = number(config.get("temperature"))
    req.top_p = number(config.get("topP"))
    sequences = config.get("stopSequences")
    req.stop = [s for s in sequences if isinstance(s, str)] if isinstance(sequences, list) else []
    thinking = config.get("thinkingConfig")
    if isinstance(thinking, dict):
        budget = integer(thinking.get("thinkingBudget"))
        if budget is not None and budget > 0:
            req.reasoning_budget = budget
        elif isinstance(thinking.get("thinkingLevel"), str):
            req.reasoning_effort = thinking["thinkingLevel"].lower()
    req.dropped.extend(f"generationConfig.{k}" for k in config if k not in _KNOWN_CONFIG)


def build_request(req: Request) -> dict[str, Any]:
    """The body of ``models/<model>:generateContent`` (the model goes in the URL)."""
    names: dict[str, str] = {}
    contents: list[dict[str, Any]] = []
    for message in req.messages:
        parts = [p for p in (_part(x, names) for x in message.parts) if p is not None]
        if not parts:
            continue
        role = "model" if message.role == "assistant" else "user"
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    out: dict[str, Any] = {"contents": contents}
    if req.system:
        out["systemInstruction"] = {"parts": [{"text": req.system}]}
    if req.tools:
        declarations = []
        for tool in req.tools:
            declaration: dict[str, Any] = {"name": tool.name, "description": tool.description}
            parameters = to_gemini_schema(tool.parameters)
            if parameters.get("properties"):
                declaration["parameters"] = parameters
            declarations.append(declaration)
        out["tools"] = [{"functionDeclarations": declarations}]
        config = _build_tool_config(req)
        if config is not None:
            out["toolConfig"] = {"functionCallingConfig": config}
    generation: dict[str, Any] = {}
    if req.max_tokens is not None:
        generation["maxOutputTokens"] = req.max_tokens
    if req.temperature is not None:
        generation["temperature"] = req.temperature
    if req.top_p is not None:
        generation["topP"] = req.top_p
    if req.stop:
        generation["stopSequences"] = req.stop[:5]
    budget = req.reasoning_budget or effort_to_budget(req.reasoning_effort)
    if budget:
        generation["thinkingConfig"] = {"thinkingBudget": budget, "includeThoughts": True}
    if generation:
        out["generationConfig"] = generation
    return out


def _build_tool_config(req: Request) -> dict[str, Any] | None:
    if req.tool_choice == "tool":
        return {"mode": "ANY", "allowedFunctionNames": [req.tool_name]}
    return {"none": {"mode": "NONE"}, "required": {"mode": "ANY"}, "auto": {"mode": "AUTO"}}.get(
        req.tool_choice or ""
    )


def _part(part: Part, names: dict[str, str]) -> dict[str, Any] | None:
    if isinstance(part, Text):
        return {"text": part.text} if part.text else None
    if isinstance(part, Image):
        if part.data is not None:
            return {"inlineData": {"mimeType": part.media_type or "image/png", "data": part.data}}
        return {"fileData": {"mimeType": "image/*", "fileUri": part.url}}
    if isinstance(part, ToolCall):
        names[part.id] = part.name
        return {"functionCall": {"name": part.name, "args": args_object(part.arguments)}}
    if isinstance(part, ToolResult):
        name = part.name or names.get(part.call_id) or part.call_id
        try:
            value = json.loads(part.content)
        except ValueError:
            value = None
        response = value if isinstance(value, dict) else {"content": part.content}
        if part.is_error:
            response = {"error": part.content}
        return {"functionResponse": {"name": name, "response": response}}
    return None  # Thinking: Gemini keeps its own thoughts


# ----------------------------------------------------------------- responses


def parse_usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    candidates = integer(raw.get("candidatesTokenCount"))
    thoughts = integer(raw.get("thoughtsTokenCount"))
    output = (
        None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)
    )
    return Usage(
        input=integer(raw.get("promptTokenCount")),
        output=output,
        cached=integer(raw.get("cachedContentTokenCount")),
        reasoning=thoughts,
    )


def build_usage(usage: Usage) -> dict[str, Any]:
    prompt, output = usage.input or 0, usage.output or 0
    out = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output - (usage.reasoning or 0),
        "totalTokenCount": prompt + output,
    }
    if usage.cached:
        out["cachedContentTokenCount"] = usage.cached
    if usage.reasoning:
        out["thoughtsTokenCount"] = usage.reasoning
    return out


def finish_in(reason: Any, has_calls: bool) -> str:
    if not isinstance(reason, str):
        return TOOL_CALLS if has_calls else STOP
    if reason in _FILTERED:
        return CONTENT_FILTER
    finish = _FINISH_IN.get(reason, STOP)
    return TOOL_CALLS if finish == STOP and has_calls else finish


def parse_response(data: dict[str, Any]) -> Response:
    candidates = items(data.get("candidates"), "candidates")
    candidate = obj(candidates[0], "candidates[0]") if candidates else {}
    content = sub(candidate, "content")
    ids = _CallIds()
    parts = _parts(content.get("parts"), ids, [])
    has_calls = any(isinstance(p, ToolCall) for p in parts)
    return Response(
        id=str(data.get("responseId") or new_id("")),
        model=str(data.get("modelVersion") or ""),
        parts=parts,
        finish=finish_in(candidate.get("finishReason"), has_calls),
        usage=parse_usage(data.get("usageMetadata")),
    )


def build_response(resp: Response, model: str) -> dict[str, Any]:
    names: dict[str, str] = {}
    parts: list[dict[str, Any]] = []
    for part in resp.parts:
        if isinstance(part, Thinking):
            parts.append({"text": part.text, "thought": True})
        else:
            built = _part(part, names)
            if built is not None:
                parts.append(built)
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": parts or [{"text": ""}]},
                "finishReason": FINISH_OUT.get(resp.finish, "STOP"),
                "index": 0,
            }
        ],
        "usageMetadata": build_usage(resp.usage),
        "modelVersion": model,
        "responseId": resp.id,
    }
