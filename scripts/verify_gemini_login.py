"""The Gemini scenario of ``verify_subscriptions.py`` (issue 20): the real Gemini CLI, logged in
with Google (a fake login), under ``auto-router run``.

The backend holds a Code Assist provider (``type = "gemini"``, ``auth = "passthrough"``) whose
base URL is a local fake of cloudcode-pa.googleapis.com and an API-key Gemini provider. The
fake accepts only the Google bearer, answers the account calls Gemini CLI makes at start
(``loadCodeAssist``, ``retrieveUserQuota``, ``listExperiments``) and its first model request
(the model router's question, answered in JSON) in Code Assist's shape, then the quota's 429
(``RESOURCE_EXHAUSTED``), so the prompt's own turn overflows. Checked:

- Code Assist received the Google bearer, and only that; the API-key provider never did;
- the run's token reached no upstream (no ``/r/`` path, no ``arr_`` value);
- after the 429 the API-key provider answered (its own key), and Gemini CLI printed that
  answer, exit 0; the shell's ``GEMINI_API_KEY`` went nowhere.

The login is faked the way Gemini CLI 0.61 allows offline: ``GOOGLE_GENAI_USE_GCA=true`` with
``GOOGLE_CLOUD_ACCESS_TOKEN`` (with only ``~/.gemini/oauth_creds.json`` it first checks the
token at oauth2.googleapis.com, which a private network cannot answer). Run it inside
``unshare -rn`` (loopback only)::

    unshare -rn sh -c 'ip link set lo up; .venv/bin/python scripts/verify_gemini_login.py \\
        /tmp/agents-p17agents/node_modules/.bin/gemini'
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auto_router.demo import wire
from auto_router.demo.actions import Action, Reply, Seen, Stream
from auto_router.demo.fake_upstream import FakeProvider, FakeUpstream

GOOGLE = "ya29.fake-google-access-token-" + "g" * 40
SHELL_KEY = "AIzaSy-from-the-shell-0000000000000"
KEY = "plan-gemini-key-0123456789abcdef"
PROJECT = "fake-project-verify"
SUB_TEXT = "answer from code assist"
KEY_TEXT = "answer from the api-key provider"
ACCOUNT: dict[str, Any] = {
    "loadCodeAssist": {
        "currentTier": {"id": "standard-tier", "name": "Gemini Code Assist"},
        "allowedTiers": [{"id": "standard-tier", "isDefault": True}],
        "cloudaicompanionProject": PROJECT,
    },
    "retrieveUserQuota": {"buckets": []},
    "listExperiments": {"experimentIds": [], "flags": []},
}


@dataclass
class CodeAssist:
    """A ``FakeUpstream`` script: Code Assist for a Google login; ``answers`` model requests,
    then the quota's 429."""

    answers: int = 1
    seen: list[Seen] = field(default_factory=list)
    model_calls: int = 0
    limited: int = 0
    refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, seen: Seen) -> Action:
        with self._lock:
            self.seen.append(seen)
            if seen.headers.get("authorization") != f"Bearer {GOOGLE}":
                self.refused += 1
                return Reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
            method = seen.route.rpartition(":")[2]
            if method in ACCOUNT:
                return Reply(200, ACCOUNT[method])
            if method not in ("generateContent", "streamGenerateContent"):
                return Reply(200, {})  # recordCodeAssistMetrics and the like
            body = seen.document()
            self.model_calls += 1
            if self.model_calls > self.answers:
                self.limited += 1
                error = wire.gemini_429(str(body.get("model")), 30)
                error["error"]["message"] = "You have exhausted your capacity on this model."
                return Reply(429, error)
            answer = wire.gemini_answer(str(body.get("model")), [{"text": _text(body)}])
            wrapped = {"response": answer, "traceId": "trace-verify"}
            if method == "streamGenerateContent":
                return Stream([json.dumps(wrapped)])
            return Reply(200, wrapped)


def _text(body: dict[str, Any]) -> str:
    """The answer: JSON for a request that asks for it (Gemini CLI's model router asks which
    model a prompt needs, ``{"reasoning", "model_choice"}``), else ``SUB_TEXT``."""
    generation = body.get("request", {}).get("generationConfig") or {}
    if generation.get("responseMimeType") == "application/json":
        return json.dumps({"reasoning": "a short greeting", "model_choice": "flash"})
    return SUB_TEXT


def config(sub_url: str, key_url: str) -> tuple[str, str]:
    llm = (
        '[backends.gemini]\nproviders = ["sub", "plan"]\nstrategy = "priority"\n\n'
        '[message_backend]\ndefault = "gemini"\n'
    )
    providers = (
        f'[gemini.sub]\ntype = "gemini"\nauth = "passthrough"\nbase_url = "{sub_url}"\n\n'
        f'[gemini.plan]\ntype = "gemini"\nbase_url = "{key_url}"\napi_key = "{KEY}"\n'
        'model_map = { "gemini-*" = "plan-model" }\n'
    )
    return llm, providers


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    sub: CodeAssist
    plan: FakeProvider
    plan_seen: list[Seen]


def run_scenario(executable: str, base: Path, quiet: dict[str, str], answers: int = 1) -> Outcome:
    work = Path(tempfile.mkdtemp(prefix="sub-gemini-", dir=base))
    home, cfg, cwd = work / "home", work / "config", work / "project"
    for d in (home, cfg, cwd):
        d.mkdir()
    gemini = home / ".gemini"
    gemini.mkdir()
    settings = {"security": {"auth": {"selectedType": "oauth-personal"}}}
    (gemini / "settings.json").write_text(json.dumps(settings))
    sub, plan = CodeAssist(answers), FakeProvider("plan", text=KEY_TEXT)
    with FakeUpstream(sub) as sub_fake, FakeUpstream(plan) as plan_fake:
        llm, providers = config(sub_fake.root, plan_fake.root)
        (cfg / "llm_config.toml").write_text(llm)
        (cfg / "provider_metadata.toml").write_text(providers)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTO_ROUTER", "FAKE_"))}
        env.update(quiet)
        env.update(
            {
                "HOME": str(home),
                "TZ": "UTC",
                "GOOGLE_GENAI_USE_GCA": "true",
                "GOOGLE_CLOUD_ACCESS_TOKEN": GOOGLE,
                "GEMINI_API_KEY": SHELL_KEY,  # the shell's key: must not replace the login
                "PATH": f"{Path(executable).parent}{os.pathsep}{env.get('PATH', '')}",
            }
        )
        command = [sys.executable, "-m", "auto_router", "--config-dir", str(cfg), "run"]
        proc = subprocess.run(
            [*command, "--", executable, "--skip-trust", "-p", "say hi"],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        plan_seen = list(plan_fake.seen)
    return Outcome(proc.returncode, proc.stdout, proc.stderr, sub, plan, plan_seen)


def checks(run: Outcome) -> dict[str, bool]:
    every = [*run.sub.seen, *run.plan_seen]
    routes = [s.route for s in run.sub.seen]
    return {
        "Code Assist got the account calls and the Google bearer, only that": bool(run.sub.seen)
        and "/v1internal:loadCodeAssist" in routes
        and run.sub.refused == 0,
        "Code Assist answered, then refused with the quota's 429": run.sub.model_calls
        > run.sub.answers
        and run.sub.limited > 0,
        "the run's token reached no upstream": bool(every)
        and not any("/r/" in s.path or any("arr_" in v for v in s.headers.values()) for s in every),
        "the API-key provider answered with its own key, never the login": bool(run.plan_seen)
        and all(s.headers.get("x-goog-api-key") == KEY for s in run.plan_seen)
        and not any(GOOGLE in repr(s) or SHELL_KEY in repr(s) for s in run.plan_seen),
        "the shell's GEMINI_API_KEY went nowhere": not any(SHELL_KEY in repr(s) for s in every),
        "Gemini CLI printed the overflow's answer, exit 0": run.exit_code == 0
        and KEY_TEXT in run.stdout,
    }


def describe(run: Outcome) -> list[str]:
    sub = ", ".join(f"{s.method} {s.route}" for s in run.sub.seen)
    plan = ", ".join(f"{r['path']} {r['status']}" for r in run.plan.requests)
    lines = [f"code assist: {sub}", f"api-key provider: {plan}", f"exit {run.exit_code}"]
    lines += [f"stdout: {line}" for line in run.stdout.splitlines()[-5:]]
    lines += [line for line in run.stderr.splitlines() if line.startswith("auto-router:")]
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: verify_gemini_login.py PATH-TO-GEMINI", file=sys.stderr)
        return 64
    quiet = {"GEMINI_CLI_NO_RELAUNCH": "true", "NO_COLOR": "1", "CI": "1"}
    with tempfile.TemporaryDirectory(prefix="verify-gemini-", ignore_cleanup_errors=True) as tmp:
        run = run_scenario(argv[0], Path(tmp), quiet)
    found = checks(run)
    for name, ok in found.items():
        print(f"{'PASS' if ok else 'FAIL'}: {name}")
    for line in describe(run):
        print(f"  {line}")
    return 0 if all(found.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
