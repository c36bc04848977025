"""Key pools in the configuration and the rotator (issue 19): ``api_keys`` checked with
file, line and key; each entry expanded on its own; key ids under a per-install salt; masks;
and the pool rotating inside its provider under each strategy before the backend moves on."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from auto_router.config import load_config
from auto_router.config.pools import KeyRing, PoolKey, find_key, mask, slot_name
from auto_router.errors import ConfigValidationError, MissingVariableError
from auto_router.paths import Paths
from auto_router.rotation.service import Rotator
from auto_router.rotation.state import MemoryStateStore, SQLiteStateStore
from auto_router.secrets import Secret
from tests.helpers import FakeClock, write_config

KEY_A = "sk-pool-aaaaaaaaaaaaA1b2"
KEY_B = "sk-pool-bbbbbbbbbbbbB3c4"
KEY_C = "sk-pool-ccccccccccccC5d6"
LITERAL = "sk-literal-secret-9876wxyz"


def load(tmp_path: Path, meta: str, llm: str = "") -> Paths:
    write_config(tmp_path, llm or '[backends.qwen]\nproviders = ["pool"]\n', meta)
    return Paths(config_dir=tmp_path, data_dir=tmp_path)


@pytest.mark.parametrize(
    ("entries", "line", "expected"),
    [
        ('api_key = "x"\napi_keys = ["a", "b"]', 3, "write api_key or api_keys, not both"),
        ("api_keys = []", 2, "expected at least one key"),
        ('api_keys = ["a", 3]', 2, "entry 2: expected a string, got an integer (3)"),
        (f'api_keys = ["{LITERAL}", "b", "{LITERAL}"]', 2, "entry 3 repeats entry 1"),
        ('api_keys = ["a", ""]', 2, "entry 2: expected a key, got an empty string"),
        (f'api_keys = "{LITERAL}"', 2, "expected a list of keys"),
        ('api_keys = ["${UNCLOSED"]', 2, "unclosed '${'"),
    ],
)
def test_a_bad_pool_names_file_line_and_key_and_never_the_key(
    tmp_path: Path, entries: str, line: int, expected: str
) -> None:
    paths = load(tmp_path, f"[qwen.pool]\n{entries}\n")
    with pytest.raises(ConfigValidationError) as info:
        load_config(paths)
    assert info.value.path == paths.provider_metadata
    assert info.value.line == line
    assert info.value.key_path == "[qwen.pool].api_keys"
    assert expected in str(info.value)
    if LITERAL in entries:
        assert LITERAL[:-4] not in str(info.value)  # a literal entry is never quoted


def pool_file(*entries: str, name: str = "pool") -> str:
    listed = ", ".join(f'"{e}"' for e in entries)
    return f'[qwen.{name}]\nbase_url = "http://x.invalid/v1"\n# keys\napi_keys = [{listed}]\n'


def test_an_unset_variable_breaks_only_its_key_and_says_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P19_KEY_A", KEY_A)
    monkeypatch.delenv("P19_UNSET", raising=False)
    paths = load(tmp_path, pool_file("${P19_KEY_A}", "${P19_UNSET}", LITERAL))
    config = load_config(paths)
    provider = config.provider("qwen", "pool")
    keys = config.pool(provider)
    assert [k.id is not None for k in keys] == [True, False, True]
    problem = keys[1].problem or ""
    assert "api_keys[2]" in problem and "P19_UNSET is not set" in problem
    assert str(paths.provider_metadata) in problem
    assert [k.masked for k in keys] == ["sk-…A1b2", "${P19_UNSET}", "sk-…wxyz"]
    ring = KeyRing(tmp_path)
    assert config.slots_of(provider) == (
        slot_name("pool", ring.id_of(KEY_A)),
        slot_name("pool", ring.id_of(LITERAL)),
    )
    # the provider narrowed to one key resolves to that key, named by its entry if unset
    assert config.provider("qwen", config.slots_of(provider)[1]).resolve().api_key is not None
    with pytest.raises(MissingVariableError) as info:
        provider.entry(2).resolve()
    assert info.value.key_path == "[qwen.pool].api_keys[2]"


def test_key_ids_are_stable_salted_per_install_and_the_salt_is_private(tmp_path: Path) -> None:
    first, again = KeyRing(tmp_path / "one"), KeyRing(tmp_path / "one")
    other = KeyRing(tmp_path / "two")
    assert first.id_of(KEY_A) == again.id_of(KEY_A)  # the salt file is shared
    assert first.id_of(KEY_A) != other.id_of(KEY_A)  # another install: another salt
    assert first.id_of(KEY_A) != first.id_of(KEY_B)
    assert len(first.id_of(KEY_A)) == 10 and KEY_A not in first.id_of(KEY_A)
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    assert KEY_A not in first.path.read_text()


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("sk-abcdefghijklA1b2", "sk-…A1b2"),
        ("sk-ant-api03-abcdefghijklmnop", "sk-…mnop"),
        ("gsk_abcdefghijklmnopQRST", "gsk_…QRST"),
        ("AIzaSyabcdefghijklmnop1234", "…1234"),  # no separator near the start
        ("verylongprefix-abcdefgh1234", "…1234"),  # a long prefix is not shown
        ("short-key", "…"),  # too short to show any of it
    ],
)
def test_masks(key: str, shown: str) -> None:
    assert mask(key) == shown


def three_key_rotator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strategy: str, clock: FakeClock
) -> tuple[Rotator, list[str]]:
    for name, value in (("A", KEY_A), ("B", KEY_B), ("C", KEY_C)):
        monkeypatch.setenv(f"P19_KEY_{name}", value)
    llm = f'[backends.qwen]\nproviders = ["pool", "next"]\nstrategy = "{strategy}"\n'
    meta = pool_file("${P19_KEY_A}", "${P19_KEY_B}", "${P19_KEY_C}")
    meta += '[qwen.next]\nbase_url = "http://y.invalid/v1"\napi_key = "sk-next-0000000000"\n'
    paths = load(tmp_path, meta, llm)
    rotator = Rotator(paths, store=MemoryStateStore(), clock=clock)
    ring = KeyRing(tmp_path)
    return rotator, [slot_name("pool", ring.id_of(k)) for k in (KEY_A, KEY_B, KEY_C)]


@pytest.mark.parametrize(
    ("strategy", "after_limits"),
    [
        # key 1 and 2 run out: sticky and priority go to key 3, not to the next provider
        ("sticky", 2),
        ("priority", 2),
    ],
)
def test_the_pool_rotates_inside_its_provider_before_the_backend_moves_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strategy: str, after_limits: int
) -> None:
    clock = FakeClock()
    rotator, slots = three_key_rotator(tmp_path, monkeypatch, strategy, clock)
    assert rotator.rotation_names("qwen") == (*slots, "next")
    seen = []
    for _ in range(3):
        choice = rotator.choose("qwen")
        seen.append(choice.provider_name)
        assert choice.provider is not None and choice.provider.name == "pool"
        rotator.record_usage_limit("qwen", choice.provider_name, reset_at=clock() + 60)
    assert seen == slots
    assert rotator.choose("qwen").provider_name == "next"  # all three keys cool
    assert rotator.current_provider_name("qwen") == "next"
    clock.advance(61)
    # back: sticky stays on "next" (it is healthy), priority returns to key 1
    expected = "next" if strategy == "sticky" else slots[0]
    assert rotator.choose("qwen").provider_name == expected


def test_round_robin_picks_the_key_after_the_last_that_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    rotator, slots = three_key_rotator(tmp_path, monkeypatch, "round-robin", clock)
    served = []
    for _ in range(4):
        choice = rotator.choose("qwen")
        served.append(choice.provider_name)
        rotator.record_success("qwen", choice.provider_name)
    assert served == [slots[0], slots[1], slots[2], "next"]


def test_removing_a_key_keeps_the_others_cooldowns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    rotator, slots = three_key_rotator(tmp_path, monkeypatch, "sticky", clock)
    store = SQLiteStateStore(tmp_path / "auto-router.db")
    rotator = Rotator(rotator.paths, store=store, clock=clock)
    rotator.record_usage_limit("qwen", slots[2], reset_at=clock() + 600)
    text = rotator.paths.provider_metadata.read_text().replace('"${P19_KEY_A}", ', "")
    rotator.paths.provider_metadata.write_text(text)
    second = Rotator(rotator.paths, store=SQLiteStateStore(tmp_path / "auto-router.db"))
    (backend,) = second.status()
    keys = backend.providers[0].keys
    assert [(k.index, k.id, k.cooldown_until) for k in keys] == [
        (1, slots[1].split("#")[1], None),
        (2, slots[2].split("#")[1], clock() + 600),  # its cooldown stayed with it
    ]


def test_a_key_is_found_by_id_mask_reference_or_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P19_KEY_A", KEY_A)
    config = load_config(load(tmp_path, pool_file("${P19_KEY_A}", LITERAL)))
    keys = config.pool(config.provider("qwen", "pool"))
    assert find_key(keys, "2") == keys[1]
    assert find_key(keys, "${P19_KEY_A}") == keys[0]
    assert find_key(keys, "sk-…wxyz") == keys[1]
    assert find_key(keys, keys[0].id or "") == keys[0]
    assert find_key(keys, "3") is None and find_key(keys, LITERAL) is None


def test_an_id_of_digits_alone_names_its_key_not_an_index() -> None:
    """About 1 % of ids (10 hex characters) are all digits: seen failing in CI."""
    keys = (
        PoolKey(1, "${A}", "7135707744", Secret("sk-aaaaaaaaaaaa")),
        PoolKey(2, "${B}", "0000000001", Secret("sk-bbbbbbbbbbbb")),
    )
    assert find_key(keys, "7135707744") == keys[0]
    assert find_key(keys, "0000000001") == keys[1]
    assert find_key(keys, "2") == keys[1]  # an index still, where no id is that
