"""Build the embedded tiny inpainting pipelines ``tiny`` and ``tiny-9ch``.

Both are real ``StableDiffusionInpaintPipeline`` folders with tiny components, loadable with
``AutoPipelineForInpainting.from_pretrained``:

* a CLIP tokenizer from a byte-level vocabulary and merges written here (no download),
* a small random ``CLIPTextModel`` and a small ``UNet2DConditionModel`` (4 input channels for
  ``tiny``, so diffusers' legacy paste-back-in-latents path runs; 9 for ``tiny-9ch``),
* an 8x ``AutoencoderKL`` TRAINED here on the bundled images (minus a held-out set) and more that
  ship inside scikit-image and matplotlib (``tiny_data.py``), so the VAE round trip behaves like a
  real, small autoencoder rather than noise,
* the UNets briefly trained as noise predictors on that VAE's latents with the empty prompt (see
  ``tiny_training.py`` for why a random UNet would distort the leakage),
* ``PNDMScheduler(skip_prk_steps=True, steps_offset=1)`` with Stable Diffusion's beta schedule.

Everything is seeded and run with pinned threads (``--threads``, 1 by default) and deterministic
algorithms, so rerunning with the same flags on the same machine gives the same weights (another
CPU may pick other kernels). Run from the repository root::

    python tools/build_tiny_pipelines.py            # about 40 CPU-minutes (52 min on a busy 2-core CPU)
    python tools/build_tiny_pipelines.py --vae-steps 50 --unet-steps 20 --out /tmp/tiny-check
    python tools/build_tiny_pipelines.py --reuse-vae harness/pipelines/models/tiny/vae   # UNets only

The training loops live in ``tiny_training.py`` beside this script.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

import tiny_training as training
from tiny_training import SEED

#: One thread by default: a shared machine's cores are rarely all free, and several threads that
#: wait on each other run far slower there than one. Same thread count -> same weights.
DEFAULT_THREADS = 1
DEFAULT_VAE_STEPS = 3000
DEFAULT_UNET_STEPS = 1500
VAE_BLOCKS = (16, 32, 64, 64)
#: GroupNorm groups of the VAE: 4 channels per group in the first block, as SD's VAE (32 groups of
#: 128). With one channel per group every norm erases each channel's mean over the image, which
#: the decoder then has to rebuild; at equal steps 4 groups gave about 3 dB more than 16.
VAE_NORM_GROUPS = 4
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "harness" / "pipelines" / "models"


def byte_level_alphabet() -> list[str]:
    """The 256 printable stand-ins GPT-2/CLIP byte-level BPE uses for bytes, in byte order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    shifted, extra = [], 0
    for byte in range(256):
        if byte in printable:
            shifted.append(chr(byte))
        else:
            shifted.append(chr(256 + extra))
            extra += 1
    return shifted


def write_tokenizer_files(folder: Path) -> int:
    """Write a CLIP-style ``vocab.json``/``merges.txt`` (bytes, bytes at word end, specials).

    There are no merges beyond single bytes: every word tokenizes to its bytes, which is all a
    random text encoder needs. Returns the vocabulary size.
    """
    folder.mkdir(parents=True, exist_ok=True)
    alphabet = byte_level_alphabet()
    tokens = alphabet + [ch + "</w>" for ch in alphabet] + ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(tokens)}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return len(vocab)


def make_tokenizer(folder: Path):
    """A ``CLIPTokenizer`` built from the locally written vocabulary, 77 tokens long like SD's."""
    from transformers import CLIPTokenizer

    write_tokenizer_files(folder)
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=77)


def make_text_encoder(tokenizer):
    """A 2-layer, 32-wide random ``CLIPTextModel`` matching the tokenizer's ids."""
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(SEED + 1)
    config = CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=77, projection_dim=32,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return CLIPTextModel(config).eval()


def make_unet(in_channels: int):
    """A small random UNet; the same seed for both variants so they differ only in ``conv_in``."""
    from diffusers import UNet2DConditionModel

    torch.manual_seed(SEED + 2)
    return UNet2DConditionModel(
        sample_size=32, in_channels=in_channels, out_channels=4, layers_per_block=1,
        block_out_channels=(16, 32), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
        attention_head_dim=8, norm_num_groups=8,
    ).eval()


def make_scheduler():
    """PNDM as Stable Diffusion 1.x configures it (PLMS only, offset 1, scaled-linear betas)."""
    from diffusers import PNDMScheduler

    return PNDMScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False,
    )


def make_vae():
    """An untrained 4-block (8x) ``AutoencoderKL`` with 4 latent channels and no mid-block attention.

    The log-variance half of ``quant_conv`` starts at -10 so that sampled latents (what the
    pipeline uses) are close to the mean from the first step; training keeps it small.
    """
    from diffusers import AutoencoderKL

    torch.manual_seed(SEED + 3)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, sample_size=256,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=VAE_BLOCKS, layers_per_block=1, norm_num_groups=VAE_NORM_GROUPS,
        mid_block_add_attention=False,
    )
    with torch.no_grad():
        vae.quant_conv.weight[4:].zero_()
        vae.quant_conv.bias[4:].fill_(-10.0)
    return vae


def empty_prompt_embeds(tokenizer, text_encoder) -> torch.Tensor:
    """The text encoder's output for the empty prompt, as the pipeline computes it."""
    ids = tokenizer([""], padding="max_length", max_length=tokenizer.model_max_length,
                    truncation=True, return_tensors="pt").input_ids
    with torch.inference_mode():
        return text_encoder(ids)[0].clone()


def trained_vae(args: argparse.Namespace):
    """The VAE and its training record: trained now, or loaded from ``--reuse-vae``."""
    from diffusers import AutoencoderKL

    if args.reuse_vae is not None:
        # from_config + state dict rather than from_pretrained, which would record the folder
        # as "_name_or_path" in the saved config.
        from safetensors.torch import load_file

        record = json.loads((args.reuse_vae / "training.json").read_text(encoding="utf-8"))
        config = {k: v for k, v in AutoencoderKL.load_config(str(args.reuse_vae)).items() if k != "_name_or_path"}
        vae = AutoencoderKL.from_config(config)
        vae.load_state_dict(load_file(str(args.reuse_vae / "diffusion_pytorch_model.safetensors")))
        return vae.eval(), record
    vae = make_vae()
    record = training.train_vae(vae, args.vae_steps, args.log_every)
    record["scaling_factor"] = training.set_scaling_factor(vae)
    return vae, record


def save_pipeline(folder: Path, parts: dict, records: dict[str, dict]) -> None:
    """Assemble a ``StableDiffusionInpaintPipeline`` from ``parts`` and save it as safetensors.

    ``records`` maps a component folder (``"vae"``, ``"unet"``) to its ``training.json``.
    """
    from diffusers import StableDiffusionInpaintPipeline

    pipe = StableDiffusionInpaintPipeline(**parts, safety_checker=None, feature_extractor=None,
                                          requires_safety_checker=False)
    if folder.exists():
        shutil.rmtree(folder)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    write_tokenizer_files(folder / "tokenizer")  # keep the source files beside tokenizer.json
    for component, record in records.items():
        text = json.dumps(record, indent=2) + "\n"
        (folder / component / "training.json").write_text(text, encoding="utf-8")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vae-steps", type=int, default=DEFAULT_VAE_STEPS, help="VAE training steps")
    parser.add_argument("--unet-steps", type=int, default=DEFAULT_UNET_STEPS, help="training steps per UNet")
    parser.add_argument("--reuse-vae", type=Path, help="load this trained vae/ folder instead of training one")
    parser.add_argument("--log-every", type=int, default=100, help="print progress every N steps")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help="torch threads; the weights are identical only for the same count")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write tiny/ and tiny-9ch/ in")
    args = parser.parse_args(argv)
    for name in ("vae_steps", "unet_steps", "log_every", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.reuse_vae is not None and args.reuse_vae.resolve().is_relative_to(args.out.resolve()):
        args.reuse_vae = _copy_out_of(args.reuse_vae)
    return args


def _copy_out_of(vae_folder: Path) -> Path:
    """Copy a VAE folder that lies inside ``--out`` (which is rewritten) to a temporary place."""
    import tempfile

    copy = Path(tempfile.mkdtemp(prefix="tiny-vae-")) / "vae"
    shutil.copytree(vae_folder, copy)
    return copy


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)

    vae, vae_record = trained_vae(args)
    print(json.dumps(vae_record, indent=2), flush=True)
    tokenizer = make_tokenizer(args.out / "_tokenizer_source")
    shutil.rmtree(args.out / "_tokenizer_source")
    text_encoder = make_text_encoder(tokenizer)
    scheduler = make_scheduler()
    prompt_embeds = empty_prompt_embeds(tokenizer, text_encoder)
    pool = training.latent_pool(vae)
    for name, in_channels in (("tiny", 4), ("tiny-9ch", 9)):
        unet = make_unet(in_channels)
        unet_record = training.train_unet(unet, scheduler, prompt_embeds, pool, args.unet_steps, args.log_every)
        parts = dict(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler)
        save_pipeline(args.out / name, parts, {"vae": vae_record, "unet": unet_record})
        print(f"wrote {args.out / name}: {json.dumps(unet_record)}", flush=True)


if __name__ == "__main__":
    main()
