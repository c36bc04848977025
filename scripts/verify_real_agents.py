#!/usr/bin/env python3
"""Check ``auto-router run`` against the REAL agent CLIs and a local fake provider.

Run by hand (not part of the test suite; it needs the CLIs installed, e.g.
``npm install --prefix /tmp/agents opencode-ai@1.18.33 @qwen-code/qwen-code@0.24.4
@google/gemini-cli@0.61.0 @anthropic-ai/claude-code@2.1.332 @openai/codex@0.169.0``; with no
network but loopback: ``unshare -rn sh -c 'ip link set lo up; .venv/bin/python
scripts/verify_real_agents.py --agents-prefix /tmp/agents'``):

    .venv/bin/python scripts/verify_real_agents.py --agents-prefix /tmp/agents
    .venv/bin/python scripts/verify_real_agents.py --only gemini,codex --slow-timeout 60
    .venv/bin/python scripts/verify_real_agents.py --agents-prefix /tmp/agents --via-proxy
    .venv/bin/python scripts/verify_real_agents.py --agents-prefix /tmp/agents --translate

For each agent found (in ``PREFIX/node_modules/.bin`` for each ``--agents-prefix``, else on
PATH) it starts ``scripts/fake_provider.py`` on 127.0.0.1, writes a config with two providers
on it (the first one's key gets 429 + Retry-After, the second's a normal answer) and runs the
agent non-interactively through ``auto-router run``, in a temporary HOME with telemetry and
update checks off. It checks that the requests carry the providers' keys, base URL and
models, that the 429 is detected from the agent's real output and the run rotates to the
second provider (whose answer the agent prints), and that ``auto-router history`` shows both
attempts. It then measures how long the agent takes to give up on the 429 with fail-fast
(``fail_fast = true``, the default) and without (capped by ``--slow-timeout``).

With ``--via-proxy`` each agent runs through the managed local proxy instead
(``auto-router run --via-proxy``): the proxy fails over from the first provider's 429 to the
second one within the same request, so the agent must print the second provider's answer
with no 429 reaching it (one attempt, outcome ok), exit 0, and the run must print its
failover summary line. opencode, which speaks every API, is then also run on an Anthropic
pool and on a Gemini pool (auto mode: the proxy, in that API), with a tool round trip.

With ``--translate`` each agent's pool holds only providers of ANOTHER protocol
(``TRANSLATED``: Claude Code and Gemini CLI on OpenAI chat-completions providers, Codex CLI on
chat-completions providers without the Responses API, qwen-code on Anthropic providers) and
the agent runs with plain ``auto-router run`` (no mode flag: auto must pick the proxy, since
only translation reaches them). The checks are those of ``--via-proxy``, plus: every upstream
request is in the providers' protocol. Claude Code then makes a tool round trip (the fake
asks it to run ``echo hello-from-tool`` through its Bash tool and answers ``DONE: <output>``);
``--tools-all`` asks that of every agent. opencode speaks all three APIs, so its pool there
mixes them (an OpenAI provider answering 429, then an Anthropic one): it talks OpenAI to the
proxy, which translates for the second.

Two scenarios run in every mode (``--scenarios-only``: only them):

- **exhausted pool**: both providers answer 429 with ``Retry-After: 3600``; each agent runs
  through the proxy and must end within 10 s, ``run`` exiting 75 with the cooling line (the
  proxy's record tells the launcher, which ends an agent that would wait it out);
- **cc-switch claude**: a ``claude`` backend of two providers written only as variables
  (``ANTHROPIC_BASE_URL`` + ``ANTHROPIC_AUTH_TOKEN``), the first answering 429: Claude Code
  must answer from the second, through the proxy, with no 429 reaching it.

With ``--subscriptions`` (issue 20; Claude Code, Codex and Gemini CLI) each agent runs logged
in (fake logins in the private HOME) on a backend of a subscription provider (``auth =
"passthrough"``, a fake of api.anthropic.com, the ChatGPT Codex backend or Code Assist) and an
API-key provider: the subscription must receive the agent's own login and no run token, and after it
answers its rate limit the same session must go on on the API-key provider, which receives no
login; Claude Code also runs interactively in tmux, five messages of one conversation, the
third overflowing to the API-key plan and the last two back on the subscription once its window
reopens (``scripts/verify_subscriptions.py`` has the scenarios and their checks).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_provider import REPLY_TEXT, TOOL_MARKER
from fake_provider import ProviderServer as FakeProvider
from verify_subscriptions import checks as subscription_checks
from verify_subscriptions import describe as subscription_describe
from verify_subscriptions import run_interactive as subscription_session
from verify_subscriptions import run_scenario as subscription_scenario

ROOT = Path(__file__).resolve().parents[1]

#: Variables that keep the agents quiet and local (no telemetry, no update checks).
QUIET_ENV = {
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "GEMINI_CLI_TRUST_WORKSPACE": "true",
    "NO_UPDATE_NOTIFIER": "1",
    "CI": "1",
}


@dataclass(frozen=True)
class AgentSpec:
    name: str
    executable: str
    provider_type: str
    #: base_url relative to the fake server's root.
    url_suffix: str
    args: tuple[str, ...]


AGENTS = (
    AgentSpec("qwen", "qwen", "openai", "/v1", ("-p", "say hi")),
    AgentSpec("claude", "claude", "anthropic", "", ("-p", "say hi")),
    AgentSpec("gemini", "gemini", "gemini", "", ("--skip-trust", "-p", "say hi")),
    AgentSpec("codex", "codex", "openai", "/v1", ("exec", "--skip-git-repo-check", "say hi")),
    AgentSpec("opencode", "opencode", "openai", "/v1", ("run", "say hi")),
)


#: --translate: each agent's pool speaks another protocol (type, base_url suffix, the upstream
#: paths it may see), and the arguments that make it run a shell tool (the fake asks for it).
TRANSLATED = {
    "claude": ("openai", "/v1", ("/chat/completions", "/models")),
    "codex": ("openai", "/v1", ("/chat/completions", "/models")),
    "gemini": ("openai", "/v1", ("/chat/completions", "/models")),
    "qwen": ("anthropic", "", ("/v1/messages", "/v1/models")),
    # opencode speaks every API: a pool mixing two of them (see MIXED)
    "opencode": ("openai", "/v1", ("/chat/completions", "/v1/messages")),
}
#: The second provider's (type, base_url suffix) where the pool mixes APIs.
MIXED = {"opencode": ("anthropic", "")}
#: --upstream TYPE: the pool's protocol for every agent (the agent's own is skipped).
UPSTREAMS = {
    "openai": ("/v1", ("/chat/completions", "/models")),
    "anthropic": ("", ("/v1/messages", "/v1/models")),
    "gemini": ("", (":generateContent", ":streamGenerateContent", "/models")),
}
OWN = {
    "claude": ("anthropic",),
    "codex": ("openai",),
    "gemini": ("gemini",),
    "qwen": ("openai",),
    "opencode": ("openai", "anthropic", "gemini"),
}
TOOL_PROMPT = f"Run the shell command `echo {TOOL_MARKER}`, then tell me what it printed."
TOOL_ARGS = {
    "claude": ("-p", TOOL_PROMPT, "--allowedTools", "Bash"),
    # The fake only ever asks for `echo`, in the run's temporary project directory.
    "codex": (
        "exec",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        TOOL_PROMPT,
    ),
    "gemini": ("--skip-trust", "--yolo", "-p", TOOL_PROMPT),
    "qwen": ("--yolo", "-p", TOOL_PROMPT),
    "opencode": ("run", "--dangerously-skip-permissions", TOOL_PROMPT),
}


@dataclass
class Run:
    exit_code: int
    seconds: float
    stdout: str
    stderr: str
    attempts: list[dict[str, Any]]
    requests: list[dict[str, Any]]
    #: When the run started (epoch seconds, the clock of the fake's request times).
    started_at: float = 0.0

    @property
    def after_last_request(self) -> float:
        """Seconds from the last upstream request to the run's end."""
        last = max((r["time"] for r in self.requests), default=self.started_at)
        return self.started_at + self.seconds - last


@dataclass
class Result:
    agent: str
    version: str = "?"
    checks: dict[str, bool] = field(default_factory=dict)
    fast: str = "-"
    slow: str = "-"
    limit_output: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find_executable(name: str, prefixes: list[Path]) -> str | None:
    for prefix in prefixes:
        candidate = prefix / "node_modules" / ".bin" / name
        if candidate.exists():
            return str(candidate)
    return shutil.which(name)


def quiet_home(home: Path) -> None:
    """Settings that turn telemetry and update checks off, in the temporary HOME."""
    gemini = home / ".gemini"
    gemini.mkdir(parents=True, exist_ok=True)
    (gemini / "settings.json").write_text(
        json.dumps(
            {
                "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
                "privacy": {"usageStatisticsEnabled": False},
                "telemetry": {"enabled": False},
            }
        )
    )
    qwen = home / ".qwen"
    qwen.mkdir(parents=True, exist_ok=True)
    (qwen / "settings.json").write_text(
        json.dumps(
            {
                "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
                "privacy": {"usageStatisticsEnabled": False},
                "telemetry": {"enabled": False},
            }
        )
    )
    codex = home / ".codex"
    codex.mkdir(parents=True, exist_ok=True)
    (codex / "config.toml").write_text(
        "check_for_update_on_startup = false\n[analytics]\nenabled = false\n"
    )


def write_config(
    directory: Path,
    spec: AgentSpec,
    url: str,
    fail_fast: bool,
    second: tuple[str, str] | None = None,
    exhausted: bool = False,
) -> None:
    """``second``: the second provider's (type, suffix), else the spec's; ``exhausted``: its
    key is out of quota too."""
    name = spec.name
    kind, suffix = second or (spec.provider_type, spec.url_suffix)
    second_key = (
        f"sk-limited2-{name}-000000000000002" if exhausted else f"sk-ok-{name}-00000000000000000002"
    )
    (directory / "llm_config.toml").write_text(
        f"""[backends.{name}]
providers = ["{name}-limited", "{name}-ok"]
fail_fast = {"true" if fail_fast else "false"}

[message_backend]
default = "{name}"
"""
    )
    (directory / "provider_metadata.toml").write_text(
        f"""[{name}.{name}-limited]
type = "{spec.provider_type}"
base_url = "{url}{spec.url_suffix}"
api_key = "sk-limited-{name}-0000000000000001"
model = "fake-model-limited"

[{name}.{name}-ok]
type = "{kind}"
base_url = "{url}{suffix}"
api_key = "{second_key}"
model = "fake-model-ok"
"""
    )


def run_once(
    spec: AgentSpec,
    executable: str,
    fail_fast: bool,
    timeout: float | None,
    base: Path,
    via_proxy: bool | None = False,
    provider: str | None = None,
    tools: bool = False,
    args: tuple[str, ...] | None = None,
    retry_after: int = 5,
    second: tuple[str, str] | None = None,
    exhausted: bool = False,
    providers_text: str | None = None,
    llm_text: str | None = None,
) -> Run:
    """``via_proxy``: ``True`` --via-proxy, ``False`` --direct, ``None`` neither (auto)."""
    work = Path(tempfile.mkdtemp(prefix=f"{spec.name}-", dir=base))
    home, config, cwd = work / "home", work / "config", work / "project"
    for d in (home, config, cwd):
        d.mkdir()
    quiet_home(home)
    server = FakeProvider(work / "requests.jsonl", retry_after, tools=tools).start()
    try:
        write_config(config, spec, server.url, fail_fast, second, exhausted)
        if providers_text is not None:  # a provider file of the scenario's own
            (config / "provider_metadata.toml").write_text(providers_text.format(url=server.url))
        if llm_text is not None:
            (config / "llm_config.toml").write_text(llm_text)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AUTO_ROUTER", "OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_"))
        }
        env.update(QUIET_ENV)
        env["HOME"] = str(home)
        env["PATH"] = f"{Path(executable).parent}{os.pathsep}{env.get('PATH', '')}"
        auto = [sys.executable, "-m", "auto_router", "--config-dir", str(config)]
        command = [*auto, "run", "--backend", spec.name]
        if via_proxy is not None:
            command.append("--via-proxy" if via_proxy else "--direct")
        if provider is not None:
            command += ["--provider", provider]
        if timeout is not None:
            command += ["--timeout", str(timeout)]
        command += ["--", executable, *(spec.args if args is None else args)]
        started, started_at = time.monotonic(), time.time()
        proc = subprocess.run(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=(timeout or 300) * 2 + 60,
        )
        seconds = time.monotonic() - started
        history = subprocess.run(
            [*auto, "history", "--json"], env=env, capture_output=True, text=True, check=True
        )
        attempts = json.loads(history.stdout)["attempts"]
        requests = server.requests
        return Run(
            proc.returncode, seconds, proc.stdout, proc.stderr, attempts, requests, started_at
        )
    finally:
        server.shutdown()
        server.server_close()


def verify(spec: AgentSpec, executable: str, slow_timeout: float, base: Path) -> Result:
    result = Result(spec.name)
    result.version = _version(executable, base)

    fast = run_once(spec, executable, True, None, base)
    limited = [r for r in fast.requests if "limited" in r["key"]]
    ok = [r for r in fast.requests if "-ok-" in r["key"]]
    result.checks["requests carry key/url/model"] = bool(
        limited
        and ok
        and all(r["model"] == "fake-model-limited" for r in limited if r["model"])
        and any(r["model"] == "fake-model-ok" for r in ok)
    )
    result.checks["rotated, second answer printed"] = (
        fast.exit_code == 0
        and "hit its usage limit" in fast.stderr
        and REPLY_TEXT in fast.stdout + fast.stderr
    )
    outcomes = [(a["provider"], a["outcome"]) for a in fast.attempts]
    result.checks["history shows both attempts"] = outcomes == [
        (f"{spec.name}-limited", "usage-limit"),
        (f"{spec.name}-ok", "ok"),
    ]
    first = fast.attempts[0] if fast.attempts else {}
    result.fast = (
        f"{first.get('duration', 0):.1f} s, {len(limited)} req, exit {first.get('exit_code')}"
    )
    if first.get("marker"):
        result.notes.append(f"marker: {first['marker']}")
    # What the agent printed on the 429: the lines before auto-router's notice, minus noise.
    before = fast.stderr.split("auto-router:")[0]
    result.limit_output = [
        line
        for line in (fast.stdout.split(REPLY_TEXT)[0] + before).splitlines()
        if line.strip() and ("429" in line or "quota" in line.lower() or "rate" in line.lower())
    ][:8]

    if slow_timeout > 0:
        slow = run_once(spec, executable, False, slow_timeout, base)
        attempt = slow.attempts[0] if slow.attempts else {}
        count = len([r for r in slow.requests if "limited" in r["key"]])
        if attempt.get("outcome") == "timeout":
            result.slow = f"still retrying after {slow_timeout:.0f} s ({count} req)"
        else:
            result.slow = f"{attempt.get('duration', 0):.1f} s, {count} req"
    return result


def verify_via_proxy(spec: AgentSpec, executable: str, base: Path) -> Result:
    result = Result(spec.name)
    result.version = _version(executable, base)
    run = run_once(spec, executable, True, None, base, via_proxy=True)
    limited = [r for r in run.requests if "limited" in r["key"]]
    ok = [r for r in run.requests if "-ok-" in r["key"]]
    agent_output = run.stdout + run.stderr.split("auto-router:")[0]
    result.checks["first provider answered 429, second 200"] = bool(
        limited and ok and all(r["status"] == 429 for r in limited)
    )
    result.checks["second answer printed, exit 0"] = (
        run.exit_code == 0 and REPLY_TEXT in run.stdout + run.stderr
    )
    result.checks["no 429 reached the agent"] = "429" not in agent_output and [
        a["outcome"] for a in run.attempts
    ] == ["ok"]
    result.checks["failover summary printed"] = "failed over:" in run.stderr
    # The reference: the same agent run directly on the second provider (no 429, no proxy).
    alone = run_once(spec, executable, True, None, base, provider=f"{spec.name}-ok")
    result.fast = (
        f"{run.seconds:.1f} s for the whole run, {len(run.requests)} upstream requests "
        f"(direct on the second provider, no 429: {alone.seconds:.1f} s)"
    )
    result.notes += [line for line in run.stderr.splitlines() if "auto-router:" in line]
    for kind in OTHER_POOLS.get(spec.name, ()):
        _other_pool(result, spec, executable, base, kind)
    return result


#: Agents that speak several APIs: the other pools they are checked on through the proxy.
OTHER_POOLS = {"opencode": ("anthropic", "gemini")}


def _other_pool(result: Result, spec: AgentSpec, executable: str, base: Path, kind: str) -> None:
    """The agent on a pool of ``kind`` (auto mode: the proxy, in that API), answer and tool."""
    other = AgentSpec(spec.name, spec.executable, kind, UPSTREAMS[kind][0], spec.args)
    run = run_once(other, executable, True, None, base, via_proxy=None, retry_after=60)
    result.checks[f"{kind} pool: second answer through the proxy, exit 0"] = (
        run.exit_code == 0 and REPLY_TEXT in run.stdout and "failed over:" in run.stderr
    )
    paths = UPSTREAMS[kind][1]
    result.checks[f"{kind} pool: every upstream request is {kind}"] = bool(run.requests) and all(
        r["path"].endswith(paths) for r in run.requests
    )
    trip = run_once(other, executable, True, None, base, None, None, True, TOOL_ARGS[spec.name], 60)
    turns = [r.get("turn", "") for r in trip.requests if r["status"] == 200]
    result.checks[f"{kind} pool: tool round trip"] = trip.exit_code == 0 and any(
        t.startswith("DONE:") and TOOL_MARKER in t for t in turns
    )
    result.notes.append(f"{kind} pool: {run.seconds:.1f} s, {_paths(run)}")


def verify_translated(
    spec: AgentSpec, executable: str, base: Path, tools: bool, upstream: str | None = None
) -> Result:
    kind, suffix, paths = TRANSLATED[spec.name]
    if upstream is not None:
        kind, (suffix, paths) = upstream, UPSTREAMS[upstream]
    other = AgentSpec(spec.name, spec.executable, kind, suffix, spec.args)
    second = MIXED.get(spec.name) if upstream is None else None
    result = Result(spec.name)
    result.version = _version(executable, base)
    # Retry-After 60 s: longer than the proxy's max_retry_wait, so it fails over at once
    run = run_once(
        other, executable, True, None, base, via_proxy=None, retry_after=60, second=second
    )
    _failover_checks(result, run, REPLY_TEXT)
    result.checks["each provider got its own model"] = all(
        r["model"] == ("fake-model-limited" if "limited" in r["key"] else "fake-model-ok")
        for r in run.requests
        if r["model"]
    )
    kinds = kind if second is None else f"{kind} then {second[0]}"
    result.checks[f"every upstream request is {kinds} ({', '.join(paths)})"] = bool(
        run.requests
    ) and all(r["path"].endswith(paths) for r in run.requests)
    result.fast = (
        f"answer: {run.seconds:.1f} s for the whole run, {len(run.requests)} upstream requests "
        f"({_paths(run)})"
    )
    result.notes += [line for line in run.stderr.splitlines() if "auto-router:" in line]
    if not all(result.checks.values()):
        result.notes.append("agent output: " + _tail(run))
    if tools:
        trip = run_once(
            other, executable, True, None, base, None, None, True, TOOL_ARGS[spec.name], 60, second
        )
        turns = [r.get("turn", "") for r in trip.requests if r["status"] == 200]
        result.checks["tool round trip: fake asked for the tool"] = (
            "tool call" in turns and _failed_over(trip)
        )
        result.checks["tool round trip: the tool's output came back"] = any(
            t.startswith("DONE:") and TOOL_MARKER in t for t in turns
        )
        result.checks["tool round trip: final answer printed, exit 0"] = (
            # the agents wrap a tool's output differently (qwen: "Output: ...")
            trip.exit_code == 0
            and "DONE: " in trip.stdout
            and TOOL_MARKER in trip.stdout.split("DONE: ", 1)[1]
        )
        result.slow = (
            f"tool round trip: {trip.seconds:.1f} s, {len(trip.requests)} upstream requests "
            f"({_paths(trip)})"
        )
        if not all(result.checks.values()):
            result.notes.append("tool run output: " + _tail(trip))
    return result


#: How long an agent on an exhausted pool may take, start to exit (issue 17).
EXHAUSTED_SECONDS = 10.0


def verify_exhausted(spec: AgentSpec, executable: str, base: Path) -> Result:
    """Both providers out of quota, ``Retry-After: 3600``: the run ends within 10 s, exit 75."""
    result = Result(f"{spec.name} (exhausted pool)")
    result.version = _version(executable, base)
    run = run_once(
        spec, executable, True, None, base, via_proxy=True, retry_after=3600, exhausted=True
    )
    cooling = f"auto-router: all providers of {spec.name} are cooling down"
    result.checks["run exits 75"] = run.exit_code == 75
    # From the proxy's cooling answer (just after the last upstream 429) to the run's end: the
    # agents' own start-up (a few seconds, more on a loaded machine) is not the launcher's.
    result.checks[f"ended within {EXHAUSTED_SECONDS:.0f} s of the cooling answer"] = bool(
        run.requests
    ) and (run.after_last_request < EXHAUSTED_SECONDS)
    result.checks["the cooling line printed"] = any(
        line.startswith(cooling) for line in run.stderr.splitlines()
    )
    result.checks["history: one usage-limit attempt"] = [a["outcome"] for a in run.attempts] == [
        "usage-limit"
    ]
    first = run.attempts[0] if run.attempts else {}
    result.fast = (
        f"{run.seconds:.1f} s for the whole run ({run.after_last_request:.1f} s after the "
        f"cooling answer), {len(run.requests)} upstream requests, exit {first.get('exit_code')}, "
        f"marker: {first.get('marker')}"
    )
    result.notes += [line for line in run.stderr.splitlines() if "auto-router:" in line]
    if not all(result.checks.values()):
        result.notes.append("agent output: " + _tail(run))
    return result


#: A cc-switch-style ``claude`` backend: providers written only as Claude Code's variables.
CC_SWITCH_LLM = """[backends.claude]
providers = ["zai", "kimi"]

[message_backend]
default = "claude"
"""
CC_SWITCH_PROVIDERS = """[claude.zai]
ANTHROPIC_BASE_URL = "{url}"
ANTHROPIC_AUTH_TOKEN = "sk-limited-claude-0000000000000001"
ANTHROPIC_MODEL = "fake-model-limited"

[claude.kimi]
ANTHROPIC_BASE_URL = "{url}"
ANTHROPIC_AUTH_TOKEN = "sk-ok-claude-00000000000000000002"
ANTHROPIC_MODEL = "fake-model-ok"
"""


def verify_cc_switch(spec: AgentSpec, executable: str, base: Path) -> Result:
    """Claude Code on two providers written only as agent variables (``ANTHROPIC_BASE_URL``
    and ``ANTHROPIC_AUTH_TOKEN``), the first answering 429: the second answers."""
    result = Result("claude (cc-switch backend, agent variables only)")
    result.version = _version(executable, base)
    run = run_once(
        spec,
        executable,
        True,
        None,
        base,
        via_proxy=None,
        retry_after=60,
        providers_text=CC_SWITCH_PROVIDERS,
        llm_text=CC_SWITCH_LLM,
    )
    _failover_checks(result, run, REPLY_TEXT)
    result.checks["each provider got its own model"] = all(
        r["model"] == ("fake-model-limited" if "limited" in r["key"] else "fake-model-ok")
        for r in run.requests
        if r["model"]
    )
    result.fast = f"{run.seconds:.1f} s for the whole run, requests: {_paths(run)}"
    result.notes += [line for line in run.stderr.splitlines() if "auto-router:" in line]
    if not all(result.checks.values()):
        result.notes.append("agent output: " + _tail(run))
    return result


def verify_subscription(spec: AgentSpec, executable: str, base: Path) -> Result:
    """The agent logged in, its subscription's window closing mid-session (issue 20)."""
    result = Result(f"{spec.name} (subscription login, overflow to an API key)")
    result.version = _version(executable, base)
    started = time.monotonic()
    run = subscription_scenario(spec.name, executable, base, QUIET_ENV)
    result.checks = subscription_checks(spec.name, run)
    result.fast = f"{time.monotonic() - started:.1f} s for the whole run, exit {run.exit_code}"
    result.notes += subscription_describe(run)
    if not all(result.checks.values()):
        result.notes.append(f"stdout {run.stdout[-600:]!r}; stderr {run.stderr[-1500:]!r}")
    return result


def verify_subscription_session(spec: AgentSpec, executable: str, base: Path) -> Result:
    """Claude Code logged in, in tmux: five messages of one conversation, the third on the
    API-key plan while the subscription's window is closed, the last two back on it."""
    result = Result(f"{spec.name} (subscription login, one interactive session in tmux)")
    result.version = _version(executable, base)
    if shutil.which("tmux") is None:
        result.notes.append("tmux not found: skipped")
        return result
    started = time.monotonic()
    result.checks, result.notes = subscription_session(executable, base, QUIET_ENV)
    result.fast = f"{time.monotonic() - started:.1f} s for the whole session"
    return result


def _failover_checks(result: Result, run: Run, reply: str) -> None:
    limited = [r for r in run.requests if "limited" in r["key"]]
    ok = [r for r in run.requests if "-ok-" in r["key"]]
    agent_output = run.stdout + run.stderr.split("auto-router:")[0]
    result.checks["first provider answered 429, second 200"] = bool(
        limited and ok and all(r["status"] == 429 for r in limited)
    )
    result.checks["second answer printed, exit 0"] = (
        run.exit_code == 0 and reply in run.stdout + run.stderr
    )
    result.checks["no 429 reached the agent"] = "429" not in agent_output and [
        a["outcome"] for a in run.attempts
    ] == ["ok"]
    result.checks["ran through the proxy, failover summary printed"] = "failed over:" in run.stderr


def _failed_over(run: Run) -> bool:
    return run.exit_code == 0 and "failed over:" in run.stderr and "429" in _paths(run)


def _paths(run: Run) -> str:
    counts: dict[str, int] = {}
    for r in run.requests:
        name = f"{r['path']} {r['status']}"
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{n} x{c}" for n, c in counts.items())


def _tail(run: Run) -> str:
    return f"exit {run.exit_code}; stdout {run.stdout[-600:]!r}; stderr {run.stderr[-1200:]!r}"


def _version(executable: str, base: Path) -> str:
    version = subprocess.run(
        [executable, "--version"],
        capture_output=True,
        text=True,
        env={**os.environ, **QUIET_ENV, "HOME": str(base)},
        timeout=60,
    )
    return (version.stdout.strip() or version.stderr.strip()).splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents-prefix", action="append", type=Path, default=[])
    parser.add_argument("--only", default="", help="comma-separated agent names")
    parser.add_argument(
        "--slow-timeout",
        type=float,
        default=180,
        help="cap for the run without fail-fast (0: skip it)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--via-proxy", action="store_true", help="run each agent through the local proxy"
    )
    parser.add_argument(
        "--translate",
        action="store_true",
        help="run each agent on providers of another protocol (through the proxy's translation)",
    )
    parser.add_argument(
        "--upstream",
        choices=sorted(UPSTREAMS),
        help="with --translate: this protocol's pool for every agent (default: TRANSLATED)",
    )
    parser.add_argument(
        "--scenarios-only",
        action="store_true",
        help="only the exhausted-pool and cc-switch scenarios",
    )
    parser.add_argument("--no-scenarios", action="store_true", help="leave out the two scenarios")
    parser.add_argument(
        "--subscriptions",
        action="store_true",
        help="only the subscription scenario: Claude Code and Codex logged in (issue 20)",
    )
    parser.add_argument(
        "--tools-all",
        action="store_true",
        help="with --translate: a tool round trip for every agent (default: Claude Code only)",
    )
    args = parser.parse_args()
    wanted = {n for n in args.only.split(",") if n}
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="verify-agents-", ignore_cleanup_errors=True) as tmp:
        for spec in AGENTS:
            if wanted and spec.name not in wanted:
                continue
            executable = find_executable(spec.executable, args.agents_prefix)
            if executable is None:
                print(f"{spec.name}: not found, skipped", file=sys.stderr)
                continue
            print(f"{spec.name}: {executable}", file=sys.stderr, flush=True)
            try:
                if args.subscriptions:
                    if spec.name in ("claude", "codex", "gemini"):
                        results.append(verify_subscription(spec, executable, Path(tmp)))
                    if spec.name == "claude":
                        results.append(verify_subscription_session(spec, executable, Path(tmp)))
                    continue
                if not args.no_scenarios:
                    results.append(verify_exhausted(spec, executable, Path(tmp)))
                    if spec.name == "claude":
                        results.append(verify_cc_switch(spec, executable, Path(tmp)))
                if args.scenarios_only:
                    pass
                elif args.translate and args.upstream in OWN[spec.name]:
                    print(f"{spec.name}: speaks {args.upstream} itself, skipped", file=sys.stderr)
                elif args.translate:
                    tools = args.tools_all or spec.name == "claude"
                    found = verify_translated(spec, executable, Path(tmp), tools, args.upstream)
                    results.append(found)
                elif args.via_proxy:
                    results.append(verify_via_proxy(spec, executable, Path(tmp)))
                else:
                    results.append(verify(spec, executable, args.slow_timeout, Path(tmp)))
            except Exception as exc:  # report and go on with the others
                results.append(Result(spec.name, notes=[f"error: {exc!r}"]))
    if args.json:
        print(json.dumps([r.__dict__ for r in results], indent=2))
    else:
        for r in results:
            verdict = "PASS" if r.checks and all(r.checks.values()) else "FAIL"
            print(f"\n== {r.agent} {r.version}: {verdict}")
            for check, passed in r.checks.items():
                print(f"   [{'x' if passed else ' '}] {check}")
            if args.translate or "(" in r.agent:
                print(f"   {r.fast}")
                if r.slow != "-":
                    print(f"   {r.slow}")
            elif args.via_proxy:
                print(f"   through the proxy: {r.fast}")
            else:
                print(f"   give up on 429 with fail-fast:    {r.fast}")
                print(f"   give up on 429 without fail-fast: {r.slow}")
            for line in r.limit_output:
                print(f"   | {line}")
            for note in r.notes:
                print(f"   {note}")
    return 0 if results and all(r.checks and all(r.checks.values()) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
