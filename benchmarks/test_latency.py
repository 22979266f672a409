"""Pipeline latency, timed by pytest-benchmark: `--benchmark-save` / `--benchmark-compare-fail` apply.

A few representative calls of the pipeline under test (the same ``--leak-*`` options), so the speed
of an upgrade is gated the way pytest-benchmark users expect:
``pytest benchmarks -k latency --benchmark-compare --benchmark-compare-fail=mean:10%``.
"""

import pytest

from harness import masks
from harness.measure import prepared_image

# (strength, disc radius) of a light, a typical and a full inpainting; ids without "s0.3"-like
# parts so that `-k s0.3` keeps selecting leakage cases only
CALLS = {"light": (0.3, 0.5), "typical": (0.6, 0.8), "full": (1.0, 0.8)}


@pytest.fixture
def benchmark_or_skip(request):
    """pytest-benchmark's ``benchmark`` fixture, or a skip that says why it is unavailable."""
    if not request.config.pluginmanager.hasplugin("benchmark"):
        pytest.skip("pytest-benchmark is not active (-p no:benchmark)")
    return request.getfixturevalue("benchmark")


@pytest.fixture
def latency_inputs(request, benchmark_or_skip, inpainter):
    """The first image of the sweep, prepared like every case, and its session settings."""
    if benchmark_or_skip.disabled:
        if hasattr(request.config, "workerinput") or request.config.getoption("dist", "no") != "no":
            pytest.skip("pytest-benchmark turns itself off under xdist: time latency without -n")
        pytest.skip("pytest-benchmark is disabled (--benchmark-disable)")
    from harness.plugin import SESSION_KEY

    leak = request.config.stash[SESSION_KEY]
    image = prepared_image(leak.sources[0], leak.max_side, inpainter.size_multiple)
    return leak, image


@pytest.mark.parametrize("strength, radius", CALLS.values(), ids=[f"latency-{name}" for name in CALLS])
def test_inpaint_latency(benchmark_or_skip, inpainter, latency_inputs, strength, radius):
    benchmark = benchmark_or_skip
    leak, image = latency_inputs
    mask = masks.disc_mask(*image.shape[:2], radius)
    benchmark.extra_info.update(image=leak.sources[0].name, size=list(image.shape[:2]), steps=leak.steps,
                                pipeline=leak.options.pipeline)
    out = benchmark.pedantic(
        inpainter.inpaint, args=(image, mask),
        kwargs={"strength": strength, "seed": leak.options.seed, "steps": leak.steps},
        rounds=3, iterations=1, warmup_rounds=1,
    )
    assert out.shape == image.shape
