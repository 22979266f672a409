"""Throughput of batching on a GPU: the smoke cases through an SD 1.5-sized inpainting pipeline,
one case per call against batches of 8.

The pipeline is built from Stable Diffusion 1.5's published component configs (the UNet of
``runwayml/stable-diffusion-inpainting``: 9 input channels, blocks 320/640/1280/1280; SD's VAE;
CLIP ViT-L/14's text encoder; PNDM as SD ships it) with random weights, so nothing is downloaded;
the tokenizer is the byte-level one ``tools/build_tiny_pipelines.py`` writes. Random weights make
the images meaningless but the work per call is a real SD 1.5 call's. The smoke preset's strength
and radius cases run at 512x512 (each image centre-cropped to a square), grouped by what one
pipeline call can share (strength and steps), through :meth:`harness.pipelines.Inpainter.inpaint_batch`
with batch 1 and with batch ``--batch``; it prints cases per second for each and their ratio.

Usage::

    python tools/gpu_check.py                                   # cuda, float16, 512 px, batch 1 vs 8
    python tools/gpu_check.py --device cpu --tiny --size 64 --steps 2 --limit 6   # functional check on a CPU
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent

#: ``runwayml/stable-diffusion-inpainting`` unet/config.json.
SD15_INPAINT_UNET = dict(
    sample_size=64, in_channels=9, out_channels=4, center_input_sample=False, flip_sin_to_cos=True, freq_shift=0,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, downsample_padding=1, mid_block_scale_factor=1,
    act_fn="silu", norm_num_groups=32, norm_eps=1e-5, cross_attention_dim=768, attention_head_dim=8,
)
#: Stable Diffusion 1.5 vae/config.json.
SD15_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, sample_size=512, layers_per_block=2, act_fn="silu",
    norm_num_groups=32, block_out_channels=(128, 256, 512, 512), scaling_factor=0.18215,
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
)
#: ``openai/clip-vit-large-patch14``'s text config, as SD 1.5's text_encoder/config.json (the
#: vocabulary size follows the local tokenizer).
SD15_TEXT = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                 max_position_embeddings=77, projection_dim=768, hidden_act="quick_gelu", layer_norm_eps=1e-5)
#: SD 1.5 scheduler/scheduler_config.json.
SD15_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                      skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False)

#: ``--tiny``: the same architecture shrunk for a functional check on a CPU.
TINY_UNET = {**SD15_INPAINT_UNET, "block_out_channels": (32, 32, 64, 64), "layers_per_block": 1,
             "cross_attention_dim": 32, "norm_num_groups": 8, "attention_head_dim": 4}
TINY_VAE = {**SD15_VAE, "block_out_channels": (16, 16, 32, 32), "layers_per_block": 1, "norm_num_groups": 8}
TINY_TEXT = {**SD15_TEXT, "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
             "num_attention_heads": 4, "projection_dim": 32}


def build_pipeline(*, tiny: bool, device: str, dtype: str):
    """An SD 1.5-shaped (or ``tiny``) ``StableDiffusionInpaintPipeline`` with random weights on ``device``."""
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from diffusers.utils import logging as diffusers_logging
    from transformers import CLIPTextConfig, CLIPTextModel

    diffusers_logging.set_verbosity_error()  # casting random weights with .to(dtype) is what is meant here

    sys.path.insert(0, str(TOOLS))
    from build_tiny_pipelines import make_tokenizer

    with tempfile.TemporaryDirectory() as folder:
        tokenizer = make_tokenizer(Path(folder))
    torch.manual_seed(0)
    with torch.device(device):  # initialise on the device: SD's UNet alone is 860M parameters
        unet = UNet2DConditionModel(**(TINY_UNET if tiny else SD15_INPAINT_UNET))
        vae = AutoencoderKL(**(TINY_VAE if tiny else SD15_VAE))
        text = CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                                            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                                            **(TINY_TEXT if tiny else SD15_TEXT)))
    pipe = StableDiffusionInpaintPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                          scheduler=PNDMScheduler(**SD15_SCHEDULER), safety_checker=None,
                                          feature_extractor=None, requires_safety_checker=False)
    pipe.to(device, getattr(torch, dtype))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def smoke_cases(inpainter, size: int, steps: int, limit: int | None) -> list[tuple]:
    """``(image, mask, strength, seed)`` of the smoke preset's strength and radius cases at ``size`` x
    ``size``; cases the pipeline's own step rule refuses (no denoising step) are left out, as the
    harness skips them."""
    import numpy as np
    from PIL import Image, ImageOps

    from harness import masks
    from harness.cases import PRESETS, build_cases, resolve_images

    preset = PRESETS["smoke"]
    sources = resolve_images(list(preset.images))
    cases = [c for experiment in ("strength", "radius")
             for c in build_cases(experiment, preset, sources, steps=steps, seeds=[0])
             if not inpainter.family.refuses(inpainter.plan(steps, c.strength))]
    images = {s.name: np.asarray(ImageOps.fit(Image.fromarray(s.load()), (size, size), Image.LANCZOS)) for s in sources}
    out = [(images[c.image.name], masks.disc_mask(size, size, c.radius), c.strength, c.seed) for c in cases]
    return out[:limit] if limit else out


def batches(cases: list[tuple], size: int) -> list[list[tuple]]:
    """Cases that can share one call (same strength; same size and steps throughout), ``size`` at most."""
    by_strength: dict[float, list[tuple]] = {}
    for case in cases:
        by_strength.setdefault(case[2], []).append(case)
    return [group[i:i + size] for group in by_strength.values() for i in range(0, len(group), size)]


def run(inpainter, cases: list[tuple], batch: int, steps: int, device: str) -> tuple[float, float | None, int]:
    """Seconds for every case at ``batch``, peak device memory (GiB, CUDA only) and non-finite outputs."""
    import torch

    from harness.pipelines import NonFiniteOutputError

    cuda = device.startswith("cuda")
    groups = batches(cases, batch)
    first = groups[0]
    try:  # warm-up: CUDA context, kernel selection and allocator, outside the timing
        inpainter.inpaint_batch([c[0] for c in first], [c[1] for c in first], strength=first[0][2],
                                seeds=[c[3] for c in first], steps=steps)
    except NonFiniteOutputError:
        pass
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    non_finite = 0
    started = time.perf_counter()
    for group in groups:
        try:
            inpainter.inpaint_batch([c[0] for c in group], [c[1] for c in group], strength=group[0][2],
                                    seeds=[c[3] for c in group], steps=steps)
        except NonFiniteOutputError:  # random float16 weights may overflow; the work was done all the same
            non_finite += len(group)
    if cuda:
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if cuda else None
    return seconds, peak, non_finite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu [cuda]")
    parser.add_argument("--dtype", choices=("float16", "bfloat16", "float32"), default=None,
                        help="[float16 on CUDA, float32 on the CPU]")
    parser.add_argument("--tiny", action="store_true", help="shrink the components (a functional check on a CPU)")
    parser.add_argument("--size", type=int, default=512, help="image side in pixels, a multiple of 8 [512]")
    parser.add_argument("--steps", type=int, default=10, help="denoising steps at strength 1, as the smoke preset [10]")
    parser.add_argument("--batch", type=int, default=8, help="the batch compared with batch 1 [8]")
    parser.add_argument("--limit", type=int, default=None, help="only the first N cases")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads [torch's default]")
    args = parser.parse_args(argv)
    if args.size % 8 or args.size < 8:
        parser.error(f"--size {args.size} must be a positive multiple of 8 (the VAE's scale factor)")
    if args.batch < 2 or args.steps < 1:
        parser.error("--batch must be at least 2 and --steps at least 1")
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch {torch.__version__} sees no CUDA device; use --device cpu --tiny")
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = args.dtype or ("float16" if args.device.startswith("cuda") else "float32")
    from harness.pipelines import Inpainter
    from harness.pipelines.source import PipelineSource

    pipe = build_pipeline(tiny=args.tiny, device=args.device, dtype=dtype)
    inpainter = Inpainter(pipe, source=PipelineSource("random SD 1.5 shapes", "local", Path(".")),
                          device=args.device, dtype=dtype)
    cases = smoke_cases(inpainter, args.size, args.steps, args.limit)
    params = sum(p.numel() for p in pipe.unet.parameters()) / 1e6
    print(f"gpu_check: {'tiny' if args.tiny else 'SD 1.5-sized'} random inpainting pipeline (UNet {params:.1f}M "
          f"parameters) on {args.device} in {dtype}, {args.size}x{args.size}, {args.steps} steps, {len(cases)} smoke cases")
    rates = {}
    for batch in (1, args.batch):
        seconds, peak, non_finite = run(inpainter, cases, batch, args.steps, args.device)
        rates[batch] = len(cases) / seconds
        memory = f", peak {peak:.1f} GiB" if peak is not None else ""
        warning = f" ({non_finite} outputs not finite: random weights)" if non_finite else ""
        print(f"batch {batch}: {len(cases)} cases in {seconds:.2f} s: {rates[batch]:.2f} cases/s{memory}{warning}")
    print(f"batch {args.batch} / batch 1: {rates[args.batch] / rates[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
