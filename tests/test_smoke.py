from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_status_runs_on_the_example_config(tmp_path: Path) -> None:
    for name in ("llm_config.toml", "provider_metadata.toml"):
        (tmp_path / name).write_text((ROOT / "config" / name).read_text())
    result = subprocess.run(
        [sys.executable, "-m", "auto_router", "--config-dir", str(tmp_path), "status"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "qwen-openrouter" in result.stdout
    assert "current" in result.stdout
