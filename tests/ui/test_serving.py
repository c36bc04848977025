"""``/ui`` as the proxy serves it (headers, files, the gate), ``GET /v1/status`` and the
costs in the request log, over real sockets; and the files in a built, installed wheel."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from auto_router.proxy.admin.status import overflow_json
from auto_router.proxy.webui import FILES, POLICY
from auto_router.rotation.policy import ProviderState
from auto_router.rotation.service import BackendStatus, ProviderStatus
from scripts.dashboard_screenshot import SECRETS, Scene

UI = Path(__file__).resolve().parents[2] / "auto_router" / "proxy" / "ui"


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    with Scene(tmp_path).running() as running:
        yield running


def get(scene: Scene, path: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{scene.url}{path}", headers=headers)


def admin(scene: Scene, path: str) -> Any:
    answer = get(scene, path, authorization=f"Bearer {scene.token}")
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.integration
def test_every_file_has_its_type_and_the_strict_headers(scene: Scene) -> None:
    for name, kind in FILES.items():
        answer = get(scene, f"/ui/{name}")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == kind
        policy = answer.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "set-cookie" not in answer.headers
    page = get(scene, "/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text == get(scene, "/ui/index.html").text
    assert get(scene, "/favicon.ico").headers["location"] == "/ui/favicon.svg"


@pytest.mark.integration
def test_only_the_listed_files_are_served(scene: Scene) -> None:
    assert get(scene, "/ui/nope.js").headers["content-security-policy"] == POLICY
    for path in ("/ui/nope.js", "/ui/..%2f..%2fpyproject.toml", "/ui/%2e%2e/webui.py"):
        answer = get(scene, path)
        assert answer.status_code == 404, path
        assert "tool.setuptools" not in answer.text and "def " not in answer.text
    assert get(scene, "/ui/../webui.py").status_code == 404  # normalised to /webui.py


@pytest.mark.integration
def test_the_gate_applies_to_the_page(scene: Scene) -> None:
    port = scene.url.rsplit(":", 1)[1]
    assert get(scene, "/ui", host=f"rebound.example:{port}").status_code == 403
    assert get(scene, "/ui/app.js", host=f"rebound.example:{port}").status_code == 403
    assert get(scene, "/ui", **{"sec-fetch-site": "cross-site"}).status_code == 403
    assert get(scene, "/ui", **{"sec-fetch-site": "none"}).status_code == 200
    # The page holds no data; the API it calls needs the token.
    assert get(scene, "/v1/status").status_code == 401
    assert get(scene, "/v1/status", authorization="Bearer ara_wrong").status_code == 401


@pytest.mark.integration
def test_status_carries_cooldowns_reasons_headroom_and_prices(scene: Scene) -> None:
    scene.chat()
    scene.limit_one()
    scene.chat()  # one: 429 and cooling; two answers, with its rate-limit headers
    scene.chat()
    body = admin(scene, "/v1/status")
    (backend,) = body["backends"]
    one, two, three = backend["providers"]
    assert backend["current"] == "two" and backend["strategy"] == "sticky"
    assert backend["overflow"] is None  # sticky does not come back by itself
    assert one["status"] == "cooling" and one["cooldown_until"] > body["now"] + 500
    assert "429" in one["cooldown_reason"]
    assert (one["price_input"], one["price_output"]) == (3.0, 15.0)
    assert two["current"] and two["cooldown_reason"] is None
    (window,) = two["headroom"]
    assert window["name"] == "requests"
    assert (window["limit"], window["remaining"]) == (10, 8)
    assert window["utilization"] == 0.2 and window["reset_at"] > body["now"]
    assert window["fresh"] is True
    assert three["status"] == "disabled" and three["headroom"] == []
    text = str(body)
    assert not any(secret in text for secret in SECRETS)


@pytest.mark.integration
def test_requests_and_stats_carry_their_cost(scene: Scene) -> None:
    scene.chat()
    (row,) = admin(scene, "/v1/requests")["requests"]
    expected = (row["prompt_tokens"] * 3.0 + row["completion_tokens"] * 15.0) / 1_000_000
    assert row["provider"] == "one" and row["cost_usd"] == pytest.approx(expected)
    (stats,) = admin(scene, "/v1/stats?since=1h")["providers"]
    assert stats["cost_usd"] == pytest.approx(expected)


@pytest.mark.integration
def test_an_unpriced_provider_costs_unknown_not_zero(scene: Scene) -> None:
    meta = scene.paths.provider_metadata
    meta.write_text(meta.read_text().replace("price_input = 3.0\nprice_output = 15.0\n", ""))
    scene.chat()
    (row,) = admin(scene, "/v1/requests")["requests"]
    assert row["provider"] == "one" and row["cost_usd"] is None


def _status(name: str, *, cooling: float | None = None) -> ProviderStatus:
    return ProviderStatus(name, True, False, cooling, "", "openai", None, ProviderState())


def test_the_overflow_under_priority_says_where_and_until_when() -> None:
    first, second = _status("sub", cooling=2_000.0), _status("api")
    backend = BackendStatus("c", True, True, None, "api", None, (first, second), "priority")
    assert overflow_json(backend) == {"from": "sub", "to": "api", "back_at": 2_000.0}
    on_first = BackendStatus("c", True, True, None, "sub", None, (first, second), "priority")
    assert overflow_json(on_first) is None
    sticky = BackendStatus("c", True, True, None, "api", None, (first, second), "sticky")
    assert overflow_json(sticky) is None


def test_the_files_load_nothing_from_elsewhere_and_run_no_inline_code() -> None:
    allowed = {
        "http://www.w3.org/2000/svg",
        "https://html.spec.whatwg.org/multipage/server-sent-events.html",
    }
    for name in FILES:
        text = (UI / name).read_text(encoding="utf-8")
        assert set(re.findall(r"https?://[^\s\"')]+", text)) <= allowed, name
    page = (UI / "index.html").read_text(encoding="utf-8")
    assert re.findall(r"<script\b[^>]*>", page) == ['<script type="module" src="/ui/app.js">']
    assert " style=" not in page and "<style" not in page and " on" not in page.replace(" only", "")
    for name in ("app.js", "render.js", "format.js"):
        code = (UI / name).read_text(encoding="utf-8")
        for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert risky not in code, (name, risky)
        assert "document.cookie" not in code and "localStorage" not in code
    assert sorted(p.name for p in UI.iterdir()) == sorted(FILES)


@pytest.mark.integration
def test_an_installed_wheel_has_the_files(tmp_path: Path) -> None:
    # Built from a copy: setuptools writes build/ and *.egg-info where it builds.
    source = tmp_path / "source"
    shutil.copytree(
        UI.parents[2],
        source,
        ignore=shutil.ignore_patterns(
            ".*", "build", "dist", "*.egg-info", "__pycache__", "tests", "docs", "benchmarks"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path / "dist"), str(source)],
        check=True,
        timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("auto_router-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"auto_router/proxy/ui/{n}" for n in FILES} <= set(names)
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        timeout=300,
    )  # fmt: skip
    probe = (
        "import auto_router.proxy.webui as w, sys;"
        "assert w.__file__.startswith(sys.argv[1]), w.__file__;"
        "print(sum(len(w.asset(n)) for n in w.FILES))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {probe}",
         str(target)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == sum((UI / n).stat().st_size for n in FILES)
