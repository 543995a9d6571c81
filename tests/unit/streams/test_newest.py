"""The one "newest wins" rule."""

from __future__ import annotations

from streams.newest import keep_newest, outranks


def test_higher_and_equal_ranks_replace_lower_ones_do_not() -> None:
    assert outranks(5, None) and outranks(5, 4) and outranks(5, 5)
    assert not outranks(3, 4)


def test_keep_newest_per_key_later_wins_ties() -> None:
    held: dict[str, tuple[str, int, str]] = {"k": ("k", 4, "held")}
    values = [("k", 3, "late"), ("k", 5, "new"), ("j", -1, "a"), ("j", -1, "b")]
    keep_newest(held, values, key=lambda v: v[0], rank=lambda v: v[1])
    assert held == {"k": ("k", 5, "new"), "j": ("j", -1, "b")}


def test_a_full_mapping_takes_no_new_keys_but_updates_held_ones() -> None:
    held = {"a": ("a", 1)}
    dropped = keep_newest(held, [("b", 1), ("a", 2)], lambda v: v[0], lambda v: v[1], limit=1)
    assert dropped == 1 and held == {"a": ("a", 2)}
