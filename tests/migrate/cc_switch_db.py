"""cc-switch's database, built the way cc-switch builds it, for the migrate tests.

The schema is the DDL copied from cc-switch's source (``fixtures/cc-switch-schema.sql``); the
rows come from a cc-switch config.json the way cc-switch moves that file into its database
(farion1231/cc-switch ``src-tauri/src/database/migration.rs`` ``migrate_providers``).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
CC_SWITCH_JSON = FIXTURES / "cc-switch-config.json"


def cc_switch_database(source: Path, target: Path) -> Path:
    """cc-switch's database holding the providers of its config.json ``source``."""
    data = json.loads(source.read_text())
    with sqlite3.connect(target) as db:
        db.executescript((FIXTURES / "cc-switch-schema.sql").read_text())
        for app, manager in data.items():
            if not isinstance(manager, dict) or "providers" not in manager:
                continue
            for id_, p in manager["providers"].items():
                meta = dict(p.get("meta") or {})
                endpoints = meta.pop("custom_endpoints", {})
                db.execute(
                    "INSERT OR REPLACE INTO providers (id, app_type, name, settings_config, "
                    "website_url, category, created_at, sort_index, notes, icon, icon_color, "
                    "meta, is_current) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        id_,
                        app,
                        p["name"],
                        json.dumps(p["settingsConfig"]),
                        p.get("websiteUrl"),
                        p.get("category"),
                        p.get("createdAt"),
                        p.get("sortIndex"),
                        p.get("notes"),
                        p.get("icon"),
                        p.get("iconColor"),
                        json.dumps(meta),
                        1 if id_ == manager.get("current") else 0,
                    ),
                )
                for url in endpoints:
                    db.execute(
                        "INSERT INTO provider_endpoints (provider_id, app_type, url) "
                        "VALUES (?, ?, ?)",
                        (id_, app, url),
                    )
    return target
