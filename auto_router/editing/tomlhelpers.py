"""tomlkit helpers: round-trip edits that keep comments, blank lines, key order and quoting.

Everything here works on tomlkit documents and items only (no files, no validation).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import tomlkit
from tomlkit.container import OutOfOrderTableProxy
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Array, InlineTable, Table
from tomlkit.toml_document import TOMLDocument

from ..config.source import parse_toml, split_dotted
from ..errors import ConfigSyntaxError

#: Keys a new provider table is written in, first to last; the rest follow in given order.
_PROVIDER_KEY_ORDER: Final = (
    "description",
    "type",
    "enabled",
    "base_url",
    "api_key",
    "model",
    "deployment",
    "api_version",
    "command",
    "args",
)
_HEADER_LINE: Final = re.compile(r"^(?P<indent>\s*)\[(?P<key>[^\[\]]+)\](?P<rest>\s*(#.*)?)$")


def parse_document(text: str, path: Path) -> TOMLDocument:
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        parse_toml(text, path)  # raises ConfigSyntaxError with line and column
        raise ConfigSyntaxError(f"invalid TOML: {exc}", path=path) from exc


def tidy(before: str | None, after: str) -> str:
    """Keep the file's ending as it was: new tables end with a blank line, which at the very
    end of a file is one newline too many."""
    if after == (before or ""):
        return after
    if after.endswith("\n\n") and not (before or "").endswith("\n\n"):
        after = after.rstrip("\n") + "\n"
    return after


def set_key(table: Any, key: str, value: Any) -> None:
    """Set ``key`` in a tomlkit table. An existing key keeps its place and trailing comment.
    A new key goes after the table's last key (a lowercase key after the last lowercase one,
    so settings stay above exported variables), before trailing comments and blank lines."""
    if key in table or not isinstance(table, Table):
        table[key] = value
        return
    body = table.value.body
    keys = [k for k, item in body if k is not None and not isinstance(item, (Table, AoT))]
    if not key.isupper():
        keys = [k for k in keys if not k.key.isupper()] or keys[:0]
    if keys:
        table.value._insert_after(keys[-1], key, value)
        return
    first_other = next(
        (i for i, (k, item) in enumerate(body) if k is None or isinstance(item, (Table, AoT))),
        None,
    )
    if first_other is None or (key.isupper() and first_other > 0):
        table[key] = value
    else:
        table.value._insert_at(first_other, key, value)


def add_table(parent: Any, key: str, table: Any) -> None:
    """Add a table after the parent's last child table.

    The comments and blank lines that follow the previous table's last key after a blank line
    introduce whatever comes next, so they move below the new table: a section comment such
    as ``# --- claude ---`` stays above the claude tables.
    """
    if isinstance(table, Table) and not table.is_super_table():
        previous = [v for v in parent.values() if isinstance(v, Table)]
        moved = _detach_trailer(previous[-1]) if previous else []
        body = table.value.body
        if not body or not (body[-1][0] is None and "\n" in body[-1][1].as_string()):
            table.add(tomlkit.nl())
        for item in moved:
            table.value.body.append((None, item))
    parent[key] = table


def _detach_trailer(table: Table) -> list[Any]:
    """Remove and return the items after the first blank line that follows the last key."""
    if table.is_super_table():
        children = [v for v in table.values() if isinstance(v, Table)]
        return _detach_trailer(children[-1]) if children else []
    body = table.value.body
    last_key = max((i for i, (k, item) in enumerate(body) if k is not None), default=None)
    if last_key is None:
        return []
    blank = next(
        (
            i
            for i in range(last_key + 1, len(body))
            if body[i][0] is None and body[i][1].as_string().strip() == ""
        ),
        None,
    )
    if blank is None or not any(
        body[i][1].as_string().strip() for i in range(blank + 1, len(body))
    ):
        return []
    moved = [item for _, item in body[blank + 1 :]]
    del body[blank + 1 :]
    return moved


def child_table(container: Any, key: str) -> Any:
    """``container[key]`` when it is a table, else ``None``."""
    found = container.get(key)
    return found if is_table(found) else None


def is_table(value: Any) -> bool:
    return isinstance(value, (Table, InlineTable, OutOfOrderTableProxy, TOMLDocument))


def plain(table: Any) -> dict[str, Any]:
    value = table.unwrap() if hasattr(table, "unwrap") else dict(table)
    return dict(value)


def new_provider_table(values: Mapping[str, Any], variables: Mapping[str, str]) -> Table:
    table = tomlkit.table()
    ordered = [k for k in _PROVIDER_KEY_ORDER if k in values]
    ordered += [k for k in values if k not in ordered]
    for key in ordered:
        table.add(key, toml_value(values[key]))
    for key, value in variables.items():
        table.add(key, value)
    return table


def toml_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        inline = tomlkit.inline_table()
        inline.update({k: toml_value(v) for k, v in value.items()})
        return inline
    if isinstance(value, (list, tuple)):
        array = tomlkit.array()
        array.extend(toml_value(v) for v in value)
        return array
    return value


def replace_array(table: Any, key: str, values: Sequence[str]) -> None:
    """Set ``table[key]`` to ``values``. A reordering of the same items keeps each item's
    comment with it and the array's layout; anything else writes a fresh array."""
    old = table.get(key)
    if isinstance(old, Array) and sorted(map(str, old)) == sorted(values):
        _reorder(old, values)
        return
    array = tomlkit.array()
    array.extend(values)
    if isinstance(old, Array) and "\n" in old.as_string():
        array.multiline(True)
    set_key(table, key, array)


def _reorder(array: Array, values: Sequence[str]) -> None:
    groups = [g for g in getattr(array, "_value", []) if getattr(g, "value", None) is not None]
    comments = {str(g.value): getattr(g, "comment", None) for g in groups}
    items = {str(g.value): g.value for g in groups}  # keeps each string's quoting
    for index, value in enumerate(values):
        array[index] = items.get(value, value)
    if len(groups) == len(values) and len(comments) == len(values):
        for group, value in zip(groups, values, strict=True):
            group.comment = comments[value]


def insert_item(array: Array, index: int, value: str) -> None:
    """``array.insert``, except that tomlkit drops the space after a new first item of a
    one-line array (``["new","old"]``): there the items are written afresh."""
    if index == 0 and len(array) and "\n" not in array.as_string():
        values = [value, *map(str, array)]
        array.clear()
        array.extend(values)
        return
    array.insert(index, value)


def remove_all(array: Array, value: str) -> None:
    for index in reversed(range(len(array))):
        if array[index] == value:
            del array[index]


def rename_headers(text: str, old: tuple[str, ...], new: tuple[str, ...]) -> str:
    """Rewrite ``[a.old]`` / ``[a.old.sub]`` header lines to the new name, nothing else."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        body = line.rstrip("\r\n")
        match = _HEADER_LINE.match(body)
        if match is None:
            continue
        key = split_dotted(match.group("key"))
        if key[: len(old)] != old:
            continue
        header = ".".join(_quote_key(part) for part in (*new, *key[len(old) :]))
        lines[index] = f"{match.group('indent')}[{header}]{match.group('rest')}" + line[len(body) :]
    return "".join(lines)


def _quote_key(part: str) -> str:
    return part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else '"' + part.replace('"', '\\"') + '"'
