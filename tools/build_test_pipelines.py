"""Build tiny random-weight diffusers folders, one per supported pipeline family, offline.

They exist to exercise the harness's code paths for every family (sizes, timesteps, call
arguments, VAE round trip, fingerprint), not to measure anything: the weights are random, so their
"leakage" is noise. The trained embedded ``tiny`` stays the only model whose numbers mean
something. Everything is built here from configs (shaped after diffusers' own fast tests of each
inpainting pipeline) and seeded; tokenizers are written locally (CLIP's byte-level BPE with the
writer of ``build_tiny_pipelines.py``, T5's unigram with the ``tokenizers`` library), and weights
are saved as safetensors only. All families take a few seconds together::

    python tools/build_test_pipelines.py --out /tmp/test-pipelines
    python tools/build_test_pipelines.py --out /tmp/test-pipelines --family flux --family sd3

Each folder is saved under the class a user's checkpoint of that family names in its
``model_index.json`` (text-to-image classes where the hub checkpoints use them, so the harness's
resolution through ``AutoPipelineForInpainting``'s mapping is exercised too).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

# torch, diffusers and transformers are imported where used, so that --help and a bad --family
# answer at once
SEED = 20240612
CLIP_MAX_LENGTH = 77
TEXT_WIDTH = 32  # hidden size of every tiny text encoder
T5_WIDTH = 64


def seed(offset: int) -> None:
    """Seed torch for one component, so each is the same whichever families are built."""
    import torch

    torch.manual_seed(SEED + offset)


def clip_tokenizer(folder: Path):
    """A ``CLIPTokenizer`` from the locally written byte-level vocabulary (77 tokens, like SD's)."""
    from transformers import CLIPTokenizer

    from build_tiny_pipelines import write_tokenizer_files

    write_tokenizer_files(folder)
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=CLIP_MAX_LENGTH)


def t5_tokenizer():
    """A T5 tokenizer (``T5TokenizerFast``) around a unigram model built with ``tokenizers``.

    The vocabulary is T5's special tokens plus printable ASCII with and without the ``▁`` word
    marker, so any prompt tokenizes; a random text encoder needs nothing more.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import T5TokenizerFast

    pieces = [chr(c) for c in range(33, 127)]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [("\u2581" + p, -1.0) for p in pieces] + [(p, -2.0) for p in pieces] + [("\u2581", -3.0)]
    backend = Tokenizer(models.Unigram(vocab, unk_id=2))
    backend.normalizer = normalizers.Sequence([normalizers.Replace(" {2,}", " ")])
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    backend.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    backend.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                           special_tokens=[("</s>", 1)])
    return T5TokenizerFast(tokenizer_object=backend, eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                           extra_ids=0, model_max_length=512)


def clip_text_encoder(tokenizer, *, projection: bool = False, offset: int = 0):
    """A 2-layer random CLIP text encoder (``WithProjection`` for SDXL's and SD3's pooled embeds)."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    seed(offset)
    config = CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=TEXT_WIDTH, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=CLIP_MAX_LENGTH, projection_dim=TEXT_WIDTH,
        hidden_act="gelu", bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(config).eval()


def t5_text_encoder(tokenizer):
    """A 2-layer random ``T5EncoderModel`` for the tokenizer's ids."""
    from transformers import T5Config, T5EncoderModel

    seed(7)
    config = T5Config(vocab_size=len(tokenizer), d_model=T5_WIDTH, d_kv=16, d_ff=96, num_layers=2, num_heads=4,
                      relative_attention_num_buckets=8, pad_token_id=tokenizer.pad_token_id,
                      eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id)
    return T5EncoderModel(config).eval()


def vae(latent_channels: int, **flow_factors):
    """A 4-block (8x, like every supported family's) random ``AutoencoderKL``.

    ``flow_factors`` (``shift_factor``, ``scaling_factor``, ``use_quant_conv=False``, ...) shape it
    like SD3's and Flux's VAEs.
    """
    from diffusers import AutoencoderKL

    seed(3)
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=latent_channels, sample_size=32,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 8, 8), layers_per_block=1, norm_num_groups=4, mid_block_add_attention=False,
        **flow_factors,
    ).eval()


def unet(in_channels: int, cross_attention_dim: int, **sdxl):
    """A small random ``UNet2DConditionModel`` (``sdxl`` adds SDXL's text-time embedding)."""
    from diffusers import UNet2DConditionModel

    seed(2)
    return UNet2DConditionModel(
        sample_size=16, in_channels=in_channels, out_channels=4, layers_per_block=1, block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim, attention_head_dim=8, norm_num_groups=8, **sdxl,
    ).eval()


def sd_scheduler():
    """PNDM as Stable Diffusion 1.x/2.x ships it."""
    from diffusers import PNDMScheduler

    return PNDMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                         skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False)


def sd_parts(folder: Path, in_channels: int) -> dict:
    tokenizer = clip_tokenizer(folder / "_clip")
    return dict(vae=vae(4), text_encoder=clip_text_encoder(tokenizer), tokenizer=tokenizer,
                unet=unet(in_channels, TEXT_WIDTH), scheduler=sd_scheduler(), safety_checker=None,
                feature_extractor=None, requires_safety_checker=False)


def build_sd(folder: Path):
    from diffusers import StableDiffusionInpaintPipeline

    return StableDiffusionInpaintPipeline(**sd_parts(folder, 4))


def build_sd_9ch(folder: Path):
    from diffusers import StableDiffusionInpaintPipeline

    return StableDiffusionInpaintPipeline(**sd_parts(folder, 9))


def build_sd_legacy(folder: Path):
    """The 2023 study's class, while the installed diffusers still has it."""
    import warnings

    import diffusers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the class is deprecated: that is the point
        return diffusers.StableDiffusionInpaintPipelineLegacy(**sd_parts(folder, 4))


def build_sdxl(folder: Path):
    """SDXL inpainting: two CLIP encoders, the text-time embedding, Euler as SDXL ships it."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLInpaintPipeline

    tokenizer = clip_tokenizer(folder / "_clip")
    # add_time_ids are 6 numbers without an aesthetic score, each embedded in 8 dims, plus the pooled text
    time_embed = dict(addition_embed_type="text_time", addition_time_embed_dim=8,
                      projection_class_embeddings_input_dim=6 * 8 + TEXT_WIDTH)
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading", num_train_timesteps=1000)
    return StableDiffusionXLInpaintPipeline(
        vae=vae(4), text_encoder=clip_text_encoder(tokenizer), tokenizer=tokenizer,
        text_encoder_2=clip_text_encoder(tokenizer, projection=True, offset=1), tokenizer_2=tokenizer,
        unet=unet(4, 2 * TEXT_WIDTH, **time_embed), scheduler=scheduler, requires_aesthetics_score=False,
        force_zeros_for_empty_prompt=True, add_watermarker=False,
    )


def build_sd3(folder: Path):
    """SD3 saved as the text-to-image class, as its hub checkpoints are."""
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline

    tokenizer, t5 = clip_tokenizer(folder / "_clip"), t5_tokenizer()
    seed(4)
    transformer = SD3Transformer2DModel(
        sample_size=16, patch_size=2, in_channels=16, out_channels=16, num_layers=1, attention_head_dim=8,
        num_attention_heads=4, joint_attention_dim=T5_WIDTH, caption_projection_dim=32,
        pooled_projection_dim=2 * TEXT_WIDTH, pos_embed_max_size=32,
    ).eval()
    return StableDiffusion3Pipeline(
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=vae(16, shift_factor=0.0609, scaling_factor=1.5035, use_quant_conv=False, use_post_quant_conv=False),
        text_encoder=clip_text_encoder(tokenizer, projection=True), tokenizer=tokenizer,
        text_encoder_2=clip_text_encoder(tokenizer, projection=True, offset=1), tokenizer_2=tokenizer,
        text_encoder_3=t5_text_encoder(t5), tokenizer_3=t5,
    )


def flux_parts(folder: Path, in_channels: int, out_channels: int) -> dict:
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel

    tokenizer, t5 = clip_tokenizer(folder / "_clip"), t5_tokenizer()
    seed(5)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=in_channels, out_channels=out_channels, num_layers=1, num_single_layers=1,
        attention_head_dim=16, num_attention_heads=2, joint_attention_dim=T5_WIDTH,
        pooled_projection_dim=TEXT_WIDTH, axes_dims_rope=[4, 4, 8],
    ).eval()
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
                                                base_image_seq_len=256, max_image_seq_len=4096)
    return dict(transformer=transformer, scheduler=scheduler,
                vae=vae(16, shift_factor=0.1159, scaling_factor=0.3611, use_quant_conv=False,
                        use_post_quant_conv=False),
                text_encoder=clip_text_encoder(tokenizer), tokenizer=tokenizer, text_encoder_2=t5_text_encoder(t5),
                tokenizer_2=t5)


# Flux packs 2x2 latent patches: 16 latent channels become 64 transformer channels.
FLUX_PACKED = 16 * 4


def build_flux(folder: Path):
    """Flux saved as ``FluxPipeline``, as FLUX.1-dev is; inpainting maps it to FluxInpaintPipeline."""
    from diffusers import FluxPipeline

    return FluxPipeline(**flux_parts(folder, FLUX_PACKED, FLUX_PACKED))


def build_flux_fill(folder: Path):
    """Flux Fill: latents, masked-image latents and the packed 8x8 mask (64 x 4 channels) in one."""
    from diffusers import FluxFillPipeline

    return FluxFillPipeline(**flux_parts(folder, FLUX_PACKED * 2 + 8 * 8 * 4, FLUX_PACKED))


#: Folder name -> builder. ``sd-9ch`` is the ``sd`` family with a 9-channel inpainting UNet.
BUILDERS: dict[str, Callable[[Path], object]] = {
    "sd": build_sd,
    "sd-9ch": build_sd_9ch,
    "sd-legacy": build_sd_legacy,
    "sdxl": build_sdxl,
    "sd3": build_sd3,
    "flux": build_flux,
    "flux-fill": build_flux_fill,
}


def save(pipe, folder: Path) -> None:
    """Save ``pipe`` with safetensors only, replacing ``folder``."""
    if folder.exists():
        shutil.rmtree(folder)
    pipe.save_pretrained(str(folder), safe_serialization=True)


def build(name: str, out: Path) -> Path:
    """Build family ``name`` into ``out/name`` and return that folder."""
    with tempfile.TemporaryDirectory(prefix="tokenizer-") as scratch:
        pipe = BUILDERS[name](Path(scratch))
        save(pipe, out / name)
    return out / name


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write one subfolder per family in")
    parser.add_argument("--family", action="append", choices=list(BUILDERS), metavar="NAME",
                        help=f"build only this one (repeatable; default: all of {', '.join(BUILDERS)})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import torch
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    torch.set_num_threads(1)
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.family or list(BUILDERS):
        print(build(name, args.out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
