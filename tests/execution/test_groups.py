"""Planning groups, and shards of them: pure functions of the selected cases."""

from __future__ import annotations

from harness.cases import PRESETS, build_cases, resolve_images
from harness.execution.groups import Entry, identity, plain_call, plan_groups
from harness.execution.shards import Shard, shard_nodeids

SOURCES = resolve_images(["coffee", "astronaut"])


def _entries(*experiments: str) -> list[Entry]:
    return [Entry(f"benchmarks/test_{e}.py::test_{e}[{c.case_id}]", c) for e in experiments
            for c in build_cases(e, PRESETS["smoke"], SOURCES, steps=4, seeds=[0])]


def test_the_radius_sweeps_r080_cases_are_the_strength_sweeps():
    entries = _entries("strength", "radius")
    strength = {identity(e.case) for e in entries if e.case.experiment == "strength"}
    shared = [e.case for e in entries if e.case.experiment == "radius" and identity(e.case) in strength]
    assert sorted({(c.radius, c.strength) for c in shared}) == [(0.8, 0.1), (0.8, 0.5), (0.8, 0.9)]


def test_identical_cases_and_shared_calls_land_in_one_group():
    entries = _entries("strength", "radius", "mitigation")
    groups = plan_groups(entries, 4, max_side=64)
    group_of = {n: g.name for g in groups for n in g.nodeids}
    assert set(group_of) == {e.nodeid for e in entries}  # every case in exactly one group
    by_identity: dict = {}
    for e in entries:
        by_identity.setdefault(plain_call(e.case) or identity(e.case), set()).add(group_of[e.nodeid])
    assert all(len(names) == 1 for names in by_identity.values())
    # none, paste and blend of one strength share the plain call; crop and dilate run alone
    mitigation = [e for e in entries if e.case.experiment == "mitigation" and e.case.strength == 0.5
                  and e.case.image.name == "coffee"]
    names = {e.case.mitigation: group_of[e.nodeid] for e in mitigation}
    assert names["none"] == names["paste"] == names["blend"]
    assert len({names["none"], names["crop"], names["dilate"]}) == 3


def test_groups_hold_at_most_batch_calls_of_one_strength_size_and_steps():
    for batch in (1, 3, 8):
        for group in plan_groups(_entries("radius"), batch, max_side=64):
            assert 1 <= len(group.calls) <= batch
            assert len({(c.strength, c.image.name, c.steps) for c in group.calls}) == 1


def test_shards_are_disjoint_whole_groups_that_cover_the_selection_and_stay_put():
    entries = _entries("strength", "radius", "mitigation")
    groups = plan_groups(entries, 4, max_side=64)
    parts = [shard_nodeids(groups, [], Shard(k, 3)) for k in (1, 2, 3)]
    assert set().union(*parts) == {e.nodeid for e in entries}
    assert sum(len(p) for p in parts) == len(entries)
    for group in groups:
        assert sum(set(group.nodeids) <= part for part in parts) == 1
    assert parts == [shard_nodeids(groups, [], Shard(k, 3)) for k in (1, 2, 3)]
    costs = [sum(g.cost for g in groups if g.nodeids[0] in part) for part in parts]
    assert max(costs) <= 1.5 * min(costs)  # balanced by estimated cost
