"""The README's description of the presets matches the code.

The figures are parsed out of the README's text and recomputed from :data:`harness.cases.PRESETS`
with the embedded pipeline's own step rule, so editing either one alone fails here.
"""

import re
from pathlib import Path

import pytest

from harness import cases, images
from harness.pipelines.spec import resolve_spec

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _counts(preset: cases.Preset) -> tuple[int, int]:
    """(cases, skipped) for ``preset`` on `tiny` with one seed, as `pytest benchmarks` collects them."""
    sources = cases.resolve_images(list(preset.images))
    rule = resolve_spec("tiny", scheduler=preset.scheduler)
    every = [c for experiment in cases.EXPERIMENTS
             for c in cases.build_cases(experiment, preset, sources, steps=preset.steps, seeds=[0])]
    return len(every), sum(cases.skip_reason(c, rule) is not None for c in every)


def test_the_case_counts_in_the_readme_are_the_ones_collected():
    found = re.search(r"On `tiny` the smoke preset runs (\d+) cases, (\d+) of them skipped at strength 0; "
                      r"the paper preset (\d+), (\d+)", " ".join(README.split()))
    assert found, "README no longer states the presets' case counts"
    smoke, smoke_skipped, paper, paper_skipped = map(int, found.groups())
    assert (smoke, smoke_skipped) == _counts(cases.PRESETS["smoke"])
    assert (paper, paper_skipped) == _counts(cases.PRESETS["paper"])


@pytest.mark.parametrize("name", sorted(cases.PRESETS))
def test_the_preset_table_in_the_readme_gives_each_presets_size_and_images(name):
    preset = cases.PRESETS[name]
    row = re.search(rf"^\| `{name}`(?: \(default\))? \| ([^|]+) \| (\d+) \| `(\w+)` \| (\d+) ", README, re.M)
    assert row, f"README's preset table has no row for {name!r}"
    listed, max_side, resize, steps = row.groups()
    assert (int(max_side), resize, int(steps)) == (preset.max_side, preset.resize, preset.steps)
    if name == "paper":
        assert listed.strip() == f"the {len(preset.images)} bundled images"
        assert list(preset.images) == images.bundled_names()[: len(preset.images)]
    else:
        assert [s.strip() for s in listed.split(",")] == list(preset.images)
