"""The CUDA route of the embedded pipeline: fp16 and fp32, determinism, exact paste-back, timing.

These run only where torch sees a GPU (CI has none: they are skipped there, saying so); the
project's GPU checks run them on a lent machine.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from harness import masks, metrics  # noqa: E402
from harness.pipelines import load_inpainter  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the CUDA route is not testable here")


@pytest.fixture(scope="module", params=["float16", "float32"])
def cuda_tiny(request):
    return load_inpainter("tiny", device="cuda", dtype=request.param)


def test_auto_on_cuda_means_float16_on_the_current_gpu():
    inpainter = load_inpainter("tiny", device="auto")
    assert inpainter.device == f"cuda:{torch.cuda.current_device()}" and inpainter.dtype == "float16"
    assert next(inpainter.pipe.unet.parameters()).dtype == torch.float16


def test_cuda_output_is_exact_size_deterministic_and_seed_dependent(cuda_tiny, small_image, small_mask):
    kwargs = {"strength": 0.8, "steps": 10}
    first = cuda_tiny.inpaint(small_image, small_mask, seed=0, **kwargs)
    again = cuda_tiny.inpaint(small_image, small_mask, seed=0, **kwargs)
    other = cuda_tiny.inpaint(small_image, small_mask, seed=1, **kwargs)
    assert first.shape == small_image.shape and first.dtype == np.uint8
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()
    assert np.isfinite(metrics.mse_outside(small_image, first, small_mask))


def test_cuda_paste_back_is_exact_and_timing_is_counted(cuda_tiny, small_image, small_mask):
    out = cuda_tiny.inpaint(small_image, small_mask, strength=1.0, seed=0, steps=10, paste_back=True)
    assert metrics.mse_outside(small_image, out, small_mask) == 0.0
    assert cuda_tiny.last_timing.seconds > 0 and cuda_tiny.last_timing.steps == 11  # PNDM: steps + 1
    assert cuda_tiny.fingerprint()["device"].startswith("cuda")


def test_cuda_and_cpu_leakage_agree_roughly(cuda_tiny, small_image):
    """Same seed, different device: not bitwise equal, but the same physics (within a few levels)."""
    mask = masks.disc_mask(*small_image.shape[:2], 0.5)
    cpu = load_inpainter("tiny", device="cpu")
    on_gpu = cuda_tiny.vae_roundtrip(small_image)
    on_cpu = cpu.vae_roundtrip(small_image)
    gpu_mse = metrics.mse_outside(small_image, on_gpu, mask)
    cpu_mse = metrics.mse_outside(small_image, on_cpu, mask)
    assert abs(gpu_mse - cpu_mse) <= 0.05 * cpu_mse + 1.0
