"""A corpus of hostile configurations, each through ``status``, ``config validate``,
``run -- true`` and the proxy's start-up: no traceback, no hang, one line naming the file, and
``config validate`` refuses exactly what the proxy refuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from auto_router.demo.fake_upstream import free_port

ROOT = Path(__file__).resolve().parents[2]
LLM = "llm_config.toml"
META = "provider_metadata.toml"
BASE_LLM = '[message_backend]\ndefault = "qwen"\n\n[backends.qwen]\nproviders = ["one"]\n'
BASE_META = '[qwen.one]\ntype = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n'

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Case:
    name: str
    #: Extra text appended to llm_config.toml / provider_metadata.toml.
    llm: str = ""
    meta: str = ""
    #: Builds the case in the home directory instead of (or after) the texts.
    setup: Callable[[Path], None] | None = None
    #: A word the error must contain (the key, the reason); None for valid cases.
    expect: str | None = ""
    #: Whether the error must carry a line number (``file:LINE:``).
    line: bool = True
    #: Only the proxy (and ``config validate``) refuse it: an unset variable in a token.
    proxy_only: bool = False


def proxy_key(key: str, value: str, expect: str | None = None) -> Case:
    return Case(f"proxy-{key}-{value}", llm=f"\n[proxy]\n{key} = {value}\n", expect=expect or key)


def provider_key(key: str, value: str) -> Case:
    return Case(f"provider-{key}-{value}", meta=f"{key} = {value}\n", expect=key)


def backend_key(key: str, value: str) -> Case:
    return Case(f"backend-{key}-{value}", llm=f"{key} = {value}\n", expect=key)


def write(name: str, data: bytes) -> Callable[[Path], None]:
    def setup(home: Path) -> None:
        (home / name).write_bytes(data)

    return setup


def replace_with(name: str, make: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(home: Path) -> None:
        (home / name).unlink()
        make(home / name)

    return setup


def symlink_loop(path: Path) -> None:
    path.symlink_to(path.name + ".other")
    path.with_name(path.name + ".other").symlink_to(path.name)


def home_is_file(home: Path) -> None:
    for child in home.iterdir():
        child.unlink()
    home.rmdir()
    home.write_text("not a directory\n")


def home_symlink_loop(home: Path) -> None:
    home_is_file(home)
    home.unlink()
    symlink_loop(home)


def unreadable(home: Path) -> None:
    (home / LLM).chmod(0)


def garbage_journal(home: Path) -> None:
    (home / ".auto-router-pair.journal").write_text("{not json")


NESTED = "x = " + "[" * 5000 + "]" * 5000 + "\n"
CASES = [
    # syntax and encoding
    Case("garbage", llm="this is = = not toml\n", expect="invalid TOML"),
    Case("unclosed-header", llm="[backends.qwen\n", expect="invalid TOML"),
    Case("duplicate-key", meta='model = "again"\n', expect="invalid TOML"),
    Case("duplicate-table", meta="[qwen.one]\n", expect="invalid TOML"),
    Case("unterminated-string", meta='description = "oops\n', expect="invalid TOML"),
    Case("nul-byte", meta='description = "a\x00b"\n', expect="invalid TOML"),
    Case("bom-llm", setup=write(LLM, b"\xef\xbb\xbf" + BASE_LLM.encode()), expect="BOM"),
    Case("bom-meta", setup=write(META, b"\xef\xbb\xbf" + BASE_META.encode()), expect="BOM"),
    Case(
        "latin-1",
        setup=write(META, BASE_META.encode() + b'description = "caf\xe9"\n'),
        expect="UTF-8",
    ),
    Case("nested-5000", meta=NESTED, expect="nested", line=False),
    Case("nested-100", meta="x = " + "[" * 100 + "]" * 100 + "\n", expect="nested", line=False),
    Case(
        "nested-tables-100",
        meta="x = " + "{a=" * 100 + "1" + "}" * 100 + "\n",
        expect="nested",
        line=False,
    ),
    # files that are not files
    Case("llm-is-directory", setup=replace_with(LLM, Path.mkdir), expect="directory", line=False),
    Case("meta-is-directory", setup=replace_with(META, Path.mkdir), expect="directory", line=False),
    Case("llm-is-fifo", setup=replace_with(LLM, os.mkfifo), expect="FIFO", line=False),
    Case("meta-is-fifo", setup=replace_with(META, os.mkfifo), expect="FIFO", line=False),
    Case("llm-symlink-loop", setup=replace_with(LLM, symlink_loop), expect="symlink", line=False),
    Case("meta-symlink-loop", setup=replace_with(META, symlink_loop), expect="symlink", line=False),
    Case(
        "meta-is-dev-zero",
        setup=replace_with(META, lambda p: p.symlink_to("/dev/zero")),
        expect="device",
        line=False,
    ),
    Case("home-is-a-file", setup=home_is_file, expect="not a directory", line=False),
    Case("home-symlink-loop", setup=home_symlink_loop, expect="symlink", line=False),
    # valid, or valid where the user can read anyway (root): both must agree
    Case(
        "unreadable-llm",
        setup=unreadable,
        expect=None if os.geteuid() == 0 else "permission",
        line=False,
    ),
    Case("garbage-journal", setup=garbage_journal, expect=None),
    Case(
        "empty-files", setup=lambda h: [write(n, b"")(h) for n in (LLM, META)] and None, expect=None
    ),
    # numbers
    provider_key("timeout", "inf"),
    provider_key("timeout", "nan"),
    provider_key("timeout", "-inf"),
    provider_key("timeout", "-1"),
    provider_key("timeout", "0"),
    provider_key("timeout", "1e300"),
    provider_key("timeout", "9223372036854775807"),
    provider_key("timeout", '"30"'),
    provider_key("timeout", "true"),
    provider_key("timeout", "1979-05-27"),
    provider_key("cooldown", "inf"),
    provider_key("cooldown", "1e300"),
    provider_key("cooldown", "-5"),
    provider_key("cooldown", "99999999999"),
    backend_key("cooldown", "inf"),
    backend_key("cooldown", "nan"),
    backend_key("cooldown", "1e300"),
    backend_key("cooldown", "-1"),
    proxy_key("port", "70000"),
    proxy_key("port", "0"),
    proxy_key("port", "-1"),
    proxy_key("port", "3001.5"),
    proxy_key("port", '"3001"'),
    proxy_key("max_attempts", "0"),
    proxy_key("max_attempts", "1000000"),
    proxy_key("max_attempts", "true"),
    proxy_key("max_attempts", "2.5"),
    proxy_key("fallback", '"yes"'),
    proxy_key("read_timeout", "nan"),
    proxy_key("read_timeout", "inf"),
    proxy_key("connect_timeout", "-1"),
    proxy_key("failure_threshold", "-3"),
    proxy_key("failure_cooldown", "1e308"),
    Case(
        "proxy-admin-token-unset",
        llm='\n[proxy]\nadmin_token = "${AUTO_ROUTER_CORPUS_UNSET}"\n',
        expect="AUTO_ROUTER_CORPUS_UNSET",
        proxy_only=True,
    ),
    Case(
        "proxy-client-token-unset",
        llm='\n[proxy]\nclient_tokens = ["${AUTO_ROUTER_CORPUS_UNSET}"]\n',
        expect="AUTO_ROUTER_CORPUS_UNSET",
        proxy_only=True,
    ),
    proxy_key("admin_token", "5"),
    proxy_key("client_tokens", '"tok"'),
    proxy_key("client_tokens", '["${UNCLOSED"]'),
    proxy_key("default_backend", '"ghost"'),
    proxy_key("host", "5"),
    Case("proxy-not-a-table", setup=write(LLM, b"proxy = 5\n" + BASE_LLM.encode()), expect="proxy"),
    Case("proxy-log-max-rows", llm="\n[proxy.request_log]\nmax_rows = 0\n", expect="max_rows"),
    Case("proxy-log-max-days", llm="\n[proxy.request_log]\nmax_days = inf\n", expect="max_days"),
    Case(
        "proxy-log-bytes",
        llm="\n[proxy.request_log]\nmax_body_bytes = 9223372036854775807\n",
        expect="max_body_bytes",
    ),
    Case("proxy-log-not-a-table", llm="\n[proxy]\nrequest_log = 5\n", expect="request_log"),
    Case("proxy-models-string", llm='\n[proxy]\nmodels = "x"\n', expect="models"),
    Case("proxy-models-ghost-backend", llm='\n[proxy.models]\nm = "nope"\n', expect="models"),
    Case(
        "proxy-models-ghost-provider", llm='\n[proxy.models]\nm = "qwen/ghost"\n', expect="models"
    ),
    Case("proxy-models-number", llm="\n[proxy.models]\nm = 5\n", expect="models"),
    # shapes
    Case("backends-not-a-table", setup=write(LLM, b"backends = 5\n"), expect="backends"),
    backend_key("providers", '["ghost"]'),
    backend_key("providers", '"one"'),
    Case(
        "default-ghost",
        setup=write(LLM, b'[message_backend]\ndefault = "ghost"\n'),
        expect="default",
    ),
    provider_key("type", '"nonsense"'),
    provider_key("headers", "{ X = 5 }"),
    provider_key("api_key", '"${UNCLOSED"'),
    provider_key("ENV_LIST", "[1]"),
    Case("bad-provider-name", meta='["Bad Name"]\nmodel = "m"\n', expect="must match"),
    Case("meta-top-level-number", setup=write(META, b"qwen = 5\n"), expect="qwen"),
]


def build(case: Case, root: Path) -> Path:
    home = root / case.name / "home"
    home.mkdir(parents=True)
    (home / LLM).write_text(BASE_LLM + case.llm)
    (home / META).write_text(BASE_META + case.meta)
    if case.setup is not None:
        case.setup(home)
    return home


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, object]]]:
    root = tmp_path_factory.mktemp("corpus")
    for case in CASES:
        build(case, root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTO_ROUTER")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "cli" / "corpus_driver.py")]
        + [str(root / c.name) for c in CASES],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data: dict[str, dict[str, dict[str, object]]] = json.loads(done.stdout)
    return data


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_no_traceback_no_hang_one_clear_line(
    case: Case, results: dict[str, dict[str, dict[str, object]]]
) -> None:
    got = results[case.name]
    for command, result in got.items():
        assert result["code"] not in ("traceback", "hang"), (command, result["stderr"])
        assert "Traceback" not in str(result["stderr"]), command
    validate, proxy = got["validate"], got["proxy"]
    assert (validate["code"] == 0) == (proxy["code"] == 0), (validate, proxy)
    if case.expect is None:
        assert validate["code"] == 0, validate["stderr"]
        return
    refusing = ("validate", "proxy") if case.proxy_only else ("status", "validate", "run", "proxy")
    for command in refusing:
        result = got[command]
        # A home that is not a directory may first be met by the state database (exit 1).
        assert result["code"] == 78 or (case.name.startswith("home-") and result["code"]), (
            command,
            result,
        )
        first = str(result["stderr"]).splitlines()[0]
        assert case.expect.lower() in str(result["stderr"]).lower(), (command, first)
        assert "home" in first, (command, first)  # names the file (or the directory)
        if case.line:
            assert (LLM + ":" in first) or (META + ":" in first), (command, first)


SUBPROCESS_CASES = [
    c
    for c in CASES
    if c.name
    in (
        "meta-is-fifo",
        "llm-symlink-loop",
        "home-is-a-file",
        "bom-llm",
        "nested-5000",
        "proxy-port-70000",
        "proxy-admin-token-unset",
        "provider-timeout-nan",
    )
]


@pytest.mark.parametrize("case", SUBPROCESS_CASES, ids=lambda c: c.name)
def test_the_real_proxy_command_refuses_with_one_line(case: Case, tmp_path: Path) -> None:
    home, port = build(case, tmp_path), str(free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTO_ROUTER")}
    done = subprocess.run(
        [sys.executable, "-m", "auto_router", "--config-dir", str(home), "proxy", "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 78, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("auto-router: error: ")
    assert str(case.expect).lower() in done.stderr.lower()
