"""A fake of Code Assist (cloudcode-pa.googleapis.com) for a Gemini CLI logged in with Google,
as a script for ``FakeUpstream`` (issue 20).

It accepts only the Google bearer (``ya29.…``, refusing anything else with Google's 401),
answers the account calls Gemini CLI makes at start (``loadCodeAssist``,
``retrieveUserQuota``, ``listExperiments``) and ``generateContent`` /
``streamGenerateContent`` in Code Assist's shape (``{"response": <Gemini answer>, "traceId"}``,
each SSE event likewise) for ``answers`` model requests, then the quota's 429
(``RESOURCE_EXHAUSTED`` with a ``RetryInfo``)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from auto_router.demo import wire
from auto_router.demo.fake_upstream import Action, Reply, Seen, Stream

#: What a Gemini CLI logged in with Google sends: an OAuth access token.
GOOGLE_LOGIN = "ya29.fake-google-access-token-" + "c" * 40
PROJECT = "fake-project-4242"
TEXT = "from code assist"


@dataclass
class CodeAssistFake:
    answers: int = 1
    text: str = TEXT
    model_calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, seen: Seen) -> Action:
        if seen.headers.get("authorization") != f"Bearer {GOOGLE_LOGIN}":
            error = {"code": 401, "message": "Request had invalid authentication credentials."}
            return Reply(401, {"error": {**error, "status": "UNAUTHENTICATED"}})
        method = seen.route.removeprefix("/v1internal:")
        if method in ACCOUNT:
            return Reply(200, ACCOUNT[method])
        if method not in ("generateContent", "streamGenerateContent"):
            return Reply(
                404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}
            )
        body = seen.document()
        if body.get("project") != PROJECT or "contents" not in body.get("request", {}):
            return Reply(400, {"error": {"code": 400, "message": "bad request"}})
        with self._lock:
            self.model_calls += 1
            refused = self.model_calls > self.answers
        if refused:
            return Reply(429, quota_429(str(body.get("model"))))
        answer = wire.gemini_answer(str(body["model"]), [{"text": self.text}])
        wrapped = {"response": answer, "traceId": "trace-fake"}
        if method == "streamGenerateContent":
            return Stream([json.dumps(wrapped)])
        return Reply(200, wrapped)


def quota_429(model: str) -> dict[str, Any]:
    """Code Assist's answer to a used-up daily quota."""
    body = wire.gemini_429(model, 30)
    body["error"]["message"] = "You have exhausted your capacity on this model."
    return body


ACCOUNT: dict[str, Any] = {
    "loadCodeAssist": {
        "currentTier": {"id": "standard-tier", "name": "Gemini Code Assist"},
        "allowedTiers": [{"id": "standard-tier", "isDefault": True}],
        "cloudaicompanionProject": PROJECT,
    },
    "retrieveUserQuota": {
        "buckets": [
            {"modelId": "gemini-2.5-pro", "remainingFraction": 0.4, "tokenType": "REQUESTS"}
        ]
    },
    "listExperiments": {"experimentIds": [], "flags": []},
}
