"""The endpoints the proxy serves, which provider protocols can answer each, and which one a
request is for (``resolve``, called once per request by the gate)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, NamedTuple

#: Endpoint families: the wire protocol a client speaks on an endpoint.
OPENAI: Final = "openai"
ANTHROPIC: Final = "anthropic"
GEMINI: Final = "gemini"

#: A request whose JSON nests deeper than the parser goes (``RecursionError``: about 1,000
#: levels) gets a 400 with this message; an upstream answer that deep fails over. The
#: proxy's own walks of a document (translation, the log's redaction) catch it too. An
#: explicit depth scan of the bytes would cost twice the parse (docs/performance.md).
NESTED_TOO_DEEP: Final = "the JSON is nested too deeply"

#: Provider protocols (``ProviderConfig.protocol``) that can serve each family.
FAMILY_OF_PROTOCOL: Final = {
    "openai": OPENAI,
    "azure-openai": OPENAI,
    "anthropic": ANTHROPIC,
    "gemini": GEMINI,
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One proxied endpoint.

    ``upstream_path`` is what ``protocols.openai_url`` / ``anthropic_url`` take; Gemini
    endpoints build theirs from the model in the path. ``error_format`` names how errors
    look to this endpoint's clients (``openai``, ``responses``, ``anthropic``, ``gemini``).
    """

    name: str
    family: str
    upstream_path: str
    error_format: str
    has_body: bool = True
    #: The key plans are made under: ``family`` for endpoints only a provider of that family
    #: serves, ``family+`` for those a provider of another family serves by translation.
    plan_family: str = ""

    def __post_init__(self) -> None:
        if not self.plan_family:
            translated = self.name in TRANSLATABLE
            object.__setattr__(self, "plan_family", self.family + ("+" if translated else ""))


#: Endpoints that translation can serve from a provider of another protocol.
TRANSLATABLE: Final = frozenset(
    {
        "chat",
        "responses",
        "models",
        "messages",
        "anthropic_models",
        "generateContent",
        "streamGenerateContent",
        "count_tokens",
        "countTokens",
    }
)


CHAT = Endpoint("chat", OPENAI, "/chat/completions", "openai")
COMPLETIONS = Endpoint("completions", OPENAI, "/completions", "openai")
EMBEDDINGS = Endpoint("embeddings", OPENAI, "/embeddings", "openai")
RESPONSES = Endpoint("responses", OPENAI, "/responses", "responses")
MODELS = Endpoint("models", OPENAI, "/models", "openai", has_body=False)
MESSAGES = Endpoint("messages", ANTHROPIC, "/v1/messages", "anthropic")
#: ``GET /v1/models`` from an Anthropic client (it sends ``anthropic-version``).
ANTHROPIC_MODELS = Endpoint(
    "anthropic_models", ANTHROPIC, "/v1/models", "anthropic", has_body=False
)
COUNT_TOKENS = Endpoint("count_tokens", ANTHROPIC, "/v1/messages/count_tokens", "anthropic")
GEMINI_GENERATE = Endpoint("generateContent", GEMINI, "generateContent", "gemini")
GEMINI_STREAM = Endpoint("streamGenerateContent", GEMINI, "streamGenerateContent", "gemini")
GEMINI_COUNT = Endpoint("countTokens", GEMINI, "countTokens", "gemini")

#: POST endpoints by exact client path.
POST_ROUTES: Final = {
    "/v1/chat/completions": CHAT,
    "/chat/completions": CHAT,
    "/v1/completions": COMPLETIONS,
    "/v1/embeddings": EMBEDDINGS,
    "/v1/responses": RESPONSES,
    "/responses": RESPONSES,
    "/v1/messages": MESSAGES,
    "/v1/messages/count_tokens": COUNT_TOKENS,
}
GEMINI_METHODS: Final = {e.upstream_path: e for e in (GEMINI_GENERATE, GEMINI_STREAM, GEMINI_COUNT)}
GEMINI_PREFIXES: Final = ("/v1beta/models/", "/v1/models/")
#: Endpoints whose URL is fixed per provider (precomputed); Gemini URLs carry the model.
FIXED_URL_ENDPOINTS: Final = (
    CHAT,
    COMPLETIONS,
    EMBEDDINGS,
    RESPONSES,
    MODELS,
    MESSAGES,
    COUNT_TOKENS,
    ANTHROPIC_MODELS,
)


class Resolved(NamedTuple):
    """The data-path endpoint a request is for, and the model its path names (Gemini)."""

    endpoint: Endpoint
    path_model: str | None = None


def resolve(method: str, path: str, headers: Iterable[tuple[bytes, bytes]]) -> Resolved | None:
    """The endpoint of a data-path request; ``None`` for anything else (``/health``, the
    management API, unknown paths), which Starlette serves."""
    if method == "POST":
        found = _POST_RESOLVED.get(path)
        if found is not None:
            return found
        if path.startswith(GEMINI_PREFIXES):
            model, _, action = path.split("/models/", 1)[1].rpartition(":")
            gemini = GEMINI_METHODS.get(action)
            if gemini is not None and model:
                return Resolved(gemini, model)
    elif method == "GET" and path in ("/v1/models", "/models"):
        # An Anthropic client sends ``anthropic-version``; it gets Anthropic's model list.
        anthropic = any(name == b"anthropic-version" for name, _ in headers)
        return _ANTHROPIC_MODELS if anthropic else _MODELS
    return None


# Built once: the common request allocates no ``Resolved`` of its own.
_POST_RESOLVED: Final = {path: Resolved(endpoint) for path, endpoint in POST_ROUTES.items()}
_MODELS: Final = Resolved(MODELS)
_ANTHROPIC_MODELS: Final = Resolved(ANTHROPIC_MODELS)
