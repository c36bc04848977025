"""Importing the layouts of the tools auto-router replaces, one module per source layout.

- ``auto_coder``: auto-coder's ``~/.auto-coder/llm_config.toml`` (converted where its layout
  differs) and ``provider_metadata.toml`` (copied), both with their comments.
- ``qwen_providers``: ``qwen-providers.toml`` entries, one ``[qwen.<name>]`` table each.
- ``dotenv``: a provider-router ``.env``'s providers, timeout and model mappings.
- ``plan``: the migration as a whole (``plan_migration``, ``apply_migration``), on the
  provider tables written the same way for every layout (``tables``).
"""

from __future__ import annotations

from .dotenv import parse_env
from .plan import Plan, Sources, apply_migration, plan_migration

__all__ = ["Plan", "Sources", "apply_migration", "parse_env", "plan_migration"]
