"""The placement of a fleet's things, as a pure function over any history of inventories (hypothesis): a thing
never changes shard while it is in the inventory, comes back to its shard after leaving, and shards fill by count
and bytes before a new one opens."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cdk_managed_things._placement import Capacity, Placement, place, shard_name

CAPACITY = Capacity(things=5, template_bytes=3_000)
KEYS = [f"Thing{index:03d}" for index in range(60)]
# One synth: the inventory's things, each with a size (bytes of template it takes)
inventories = st.lists(
    st.dictionaries(st.sampled_from(KEYS), st.integers(min_value=100, max_value=1_500), max_size=40),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(inventories)
def test_no_thing_ever_moves_and_shards_respect_their_capacity(history: list[dict[str, int]]) -> None:
    placement = Placement()
    home: dict[str, str] = {}  # where each thing was ever placed
    for things in history:
        ordered = dict(sorted(things.items()))
        placement = place(placement, ordered, CAPACITY)
        where = {lid: shard for shard, members in placement.current.items() for lid in members}
        # every thing of the inventory is placed exactly once, and nothing else is
        assert sorted(where) == sorted(things)
        assert sum(len(members) for members in placement.current.values()) == len(things)
        for lid, shard in where.items():
            # a thing placed before, present or retired since, is where it was first placed
            assert home.setdefault(lid, shard) == shard
        # shards are numbered from 1 without gaps, and none is ever dropped
        assert list(placement.current) == [shard_name(n) for n in range(1, len(placement.current) + 1)]
        # the retired are exactly the things placed once and absent now
        assert set(placement.retired) == set(home) - set(things)


def test_new_things_fill_the_first_shard_with_room_by_count_then_by_bytes() -> None:
    # GIVEN a shard of 4 things of 500 bytes (2,000 of 3,000)
    placement = place(Placement(), {f"T{i}": 500 for i in range(4)}, CAPACITY)
    # WHEN one of 1,500 bytes and one of 900 come
    grown = place(placement, {**{f"T{i}": 500 for i in range(4)}, "Big": 1_500, "Small": 900}, CAPACITY)
    # THEN the big one opens a new shard (it would pass 3,000 bytes); the small one fills the first (5 things)
    assert grown.current == {"Shard001": ["Small", "T0", "T1", "T2", "T3"], "Shard002": ["Big"]}
