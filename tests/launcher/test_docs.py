"""docs/launcher.md must keep up with the agents table."""

from __future__ import annotations

from auto_router.agents import AGENTS

from .conftest import ROOT

DOC = (ROOT / "docs" / "launcher.md").read_text()


def test_every_agent_and_its_variables_are_documented() -> None:
    for agent in AGENTS.values():
        assert agent.title in DOC, agent.name
        for variable in agent.variables:
            assert f"`{variable}" in DOC, (agent.name, variable)


def test_every_agent_marker_is_documented() -> None:
    for agent in AGENTS.values():
        for marker in agent.markers:
            if marker.kind == "text":
                assert marker.text.replace("'", "’") in DOC.replace("'", "’"), marker.text
