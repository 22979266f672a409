"""Training loops for the embedded tiny pipelines (used by ``build_tiny_pipelines.py``).

* The VAE learns to reconstruct random crops of the training images (``tiny_data.py``: the bundled
  images minus the held-out ones, and more that ship inside scikit-image and matplotlib).
* Each UNet learns to predict the noise on latents of the same images, with the empty prompt,
  so that what the pipeline generates inside the mask stays in the latent distribution. A random
  UNet drives the latents far out of it (std ~9 instead of ~1 at strength 1.0), and the VAE
  decoder's GroupNorm then spreads that over the whole image: leakage that no real pipeline has.

Everything draws from explicit seeded generators; with the same thread count the weights are
bit-identical run to run.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np
import torch

from harness import images
from tiny_data import HELD_OUT, TRAIN_SCALES, random_crops, to_tensor, training_images, training_pyramid

SEED = 20240611
EVAL_MAX_SIDE = 256
#: (fraction of the steps reached, crop side, crops per batch): larger crops late, so the
#: GroupNorm statistics seen in training approach those of whole images.
VAE_CROP_SCHEDULE = ((0.0, 64, 16), (0.6, 96, 8), (0.85, 128, 4))
VAE_PEAK_LR = 1e-3
KL_WEIGHT = 1e-6
UNET_PEAK_LR = 1e-3
UNET_POOL = 256  # (image crop, mask) pairs encoded once for the UNet training
UNET_CROP = 128  # pixels; 16x16 latents
UNET_BATCH = 16


def to_uint8(tensor: torch.Tensor) -> np.ndarray:
    """float 1x3xHxW in [-1, 1] -> uint8 HxWx3, rounded like the pipeline's postprocessing."""
    unit = (tensor[0].permute(1, 2, 0).clamp(-1, 1) + 1) / 2
    return np.round(unit.double().numpy() * 255).astype(np.uint8)


def psnr(original: np.ndarray, output: np.ndarray) -> float:
    """PSNR in dB over all pixels and channels, data range 255, float64."""
    mse = np.mean((original.astype(np.float64) - output.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def held_out_psnr(vae: Any) -> dict[str, float]:
    """Round-trip PSNR (posterior mean, as ``Inpainter.vae_roundtrip``) of each held-out image."""
    was_training = vae.training
    vae.eval()
    scores = {}
    with torch.inference_mode():
        for name in HELD_OUT:
            image = images.prepare(images.load_bundled(name), max_side=EVAL_MAX_SIDE, multiple=8)
            decoded = vae.decode(vae.encode(to_tensor(image)).latent_dist.mode()).sample
            scores[name] = round(psnr(image, to_uint8(decoded)), 3)
    vae.train(was_training)
    return scores


def learning_rate(peak: float, step: int, total: int, warmup: int = 100) -> float:
    """Linear warm-up, then cosine decay to 1% of ``peak``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


def _vae_crop_plan(step: int, total: int) -> tuple[int, int]:
    side, count = VAE_CROP_SCHEDULE[0][1:]
    for start, crop, crops in VAE_CROP_SCHEDULE:
        if step >= start * total:
            side, count = crop, crops
    return side, count


def _optimise(model: Any, steps: int, peak_lr: float, loss_at: Callable[[int], torch.Tensor],
              report: Callable[[int, float], None], log_every: int) -> dict:
    """Adam with warm-up + cosine and gradient clipping.

    Returns the wall and CPU seconds of the loop (``seconds``, ``cpu_seconds``; CPU time over wall
    time shows how much of the machine the run had) and the mean loss of the last 10% of steps.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=peak_lr)
    model.train()
    started, cpu_started, tail = time.perf_counter(), time.process_time(), []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(peak_lr, step, steps)
        loss = loss_at(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step >= steps - max(1, steps // 10):
            tail.append(loss.item())
        if (step + 1) % log_every == 0 or step + 1 == steps:
            report(step + 1, loss.item())
    model.eval()
    return {"seconds": round(time.perf_counter() - started, 1),
            "cpu_seconds": round(time.process_time() - cpu_started, 1), "final_loss": float(np.mean(tail))}


def train_vae(vae: Any, steps: int, log_every: int) -> dict:
    """Train ``vae``: MSE of the decoded posterior SAMPLE (what the pipeline encodes) + tiny KL.

    Returns the training record: what was trained on and how, the times, the median held-out
    PSNR at every log point (``psnr_curve``) and the final per-image PSNR.
    """
    pyramid = training_pyramid()
    generator = torch.Generator().manual_seed(SEED + 4)
    started, curve = time.perf_counter(), {}

    def loss_at(step: int) -> torch.Tensor:
        batch = random_crops(pyramid, *_vae_crop_plan(step, steps), generator)
        posterior = vae.encode(batch).latent_dist
        decoded = vae.decode(posterior.sample(generator=generator)).sample
        return torch.mean((decoded - batch) ** 2) + KL_WEIGHT * posterior.kl().mean() / 4

    def report(step: int, loss: float) -> None:
        scores = held_out_psnr(vae)  # eval mode, no random draws: the training is unchanged by it
        curve[str(step)] = round(float(np.median(list(scores.values()))), 3)
        print(f"vae step {step}/{steps} loss {loss:.5f} held-out PSNR {scores} "
              f"{time.perf_counter() - started:.0f}s", flush=True)

    run = _optimise(vae, steps, VAE_PEAK_LR, loss_at, report, log_every)
    scores = held_out_psnr(vae)
    return {
        "steps": steps, "seconds": run["seconds"], "cpu_seconds": run["cpu_seconds"],
        "threads": torch.get_num_threads(), "final_loss": round(run["final_loss"], 6), "seed": SEED,
        "parameters": sum(p.numel() for p in vae.parameters()),
        "held_out": list(HELD_OUT), "eval_max_side": EVAL_MAX_SIDE, "held_out_psnr": scores,
        "median_held_out_psnr": float(np.median(list(scores.values()))), "psnr_curve": curve,
        "training_images": list(training_images()), "train_scales": list(TRAIN_SCALES),
        "crop_schedule": [list(row) for row in VAE_CROP_SCHEDULE],
        "peak_lr": VAE_PEAK_LR, "kl_weight": KL_WEIGHT, "loss": "mse on [-1,1] of the sampled decode + kl",
        "torch": torch.__version__,
    }


def set_scaling_factor(vae: Any) -> float:
    """Set ``scaling_factor`` = 1 / std of the posterior means over the training images (as SD did)."""
    with torch.inference_mode():
        means = [vae.encode(image[None]).latent_dist.mode().flatten() for image in training_pyramid()]
    factor = round(1.0 / torch.cat(means).std().item(), 5)
    vae.register_to_config(scaling_factor=factor)
    return factor


def _random_disc(size: int, generator: torch.Generator) -> torch.Tensor:
    """A size x size float mask (1 = inpaint) holding a disc of random centre and radius."""
    radius = size * (0.12 + 0.33 * float(torch.rand((), generator=generator)))
    centre = torch.rand(2, generator=generator) * size
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return (((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) <= radius**2).float()


def latent_pool(vae: Any) -> dict[str, torch.Tensor]:
    """Encode ``UNET_POOL`` random crops, their masks, and the masked crops as the pipeline does.

    Returns scaled latents, latent-resolution masks (nearest, like diffusers) and masked-image
    latents; the 9-channel UNet needs all three, the 4-channel one the latents only.
    """
    generator = torch.Generator().manual_seed(SEED + 5)
    crops = random_crops(training_pyramid(), UNET_CROP, UNET_POOL, generator)
    masks = torch.stack([_random_disc(UNET_CROP, generator) for _ in range(UNET_POOL)])[:, None]
    scale = vae.config.scaling_factor
    with torch.inference_mode():
        latents = torch.cat([vae.encode(chunk).latent_dist.mode() for chunk in crops.split(32)]) * scale
        masked = crops * (masks < 0.5)
        masked_latents = torch.cat([vae.encode(chunk).latent_dist.mode() for chunk in masked.split(32)]) * scale
    small = torch.nn.functional.interpolate(masks, size=latents.shape[-2:])
    return {"latents": latents.clone(), "masks": small.clone(), "masked_latents": masked_latents.clone()}


def train_unet(unet: Any, scheduler: Any, prompt_embeds: torch.Tensor, pool: dict[str, torch.Tensor],
               steps: int, log_every: int) -> dict:
    """Train ``unet`` to predict the noise (epsilon) on pooled latents, empty prompt only."""
    generator = torch.Generator().manual_seed(SEED + 6 + unet.config.in_channels)
    alphas = scheduler.alphas_cumprod
    embeds = prompt_embeds.expand(UNET_BATCH, -1, -1)

    def loss_at(step: int) -> torch.Tensor:
        index = torch.randint(len(pool["latents"]), (UNET_BATCH,), generator=generator)
        clean = pool["latents"][index]
        timesteps = torch.randint(len(alphas), (UNET_BATCH,), generator=generator)
        noise = torch.randn(clean.shape, generator=generator)
        alpha = alphas[timesteps].view(-1, 1, 1, 1)
        sample = alpha.sqrt() * clean + (1 - alpha).sqrt() * noise
        if unet.config.in_channels == 9:
            sample = torch.cat([sample, pool["masks"][index], pool["masked_latents"][index]], dim=1)
        return torch.mean((unet(sample, timesteps, embeds).sample - noise) ** 2)

    def report(step: int, loss: float) -> None:
        print(f"unet({unet.config.in_channels}ch) step {step}/{steps} loss {loss:.4f}", flush=True)

    run = _optimise(unet, steps, UNET_PEAK_LR, loss_at, report, log_every)
    return {"steps": steps, "seconds": run["seconds"], "cpu_seconds": run["cpu_seconds"],
            "final_loss": round(run["final_loss"], 5), "seed": SEED,
            "objective": "epsilon mse, empty prompt", "pool": UNET_POOL, "crop": UNET_CROP,
            "batch": UNET_BATCH, "peak_lr": UNET_PEAK_LR, "held_out": list(HELD_OUT),
            "threads": torch.get_num_threads(), "torch": torch.__version__}
