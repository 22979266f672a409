"""What the harness costs on top of the pipeline calls it makes: the smoke sweep through pytest
against a bare diffusers loop that makes exactly the same calls.

A benchmark, not a test. Each side runs in a fresh process, so both pay Python, torch and
diffusers start-up and the pipeline's loading; the harness side pays pytest, the plugin, the
metrics, the store, artifacts and the report besides. Runs alternate (harness, bare, bare,
harness, ...) so a change in the machine's load hits both, and the median ratio of the pairs is
printed with its min and max.

The bare loop must make the harness's calls, not an approximation of them: one untimed run of
the same pytest command first records every call the harness makes to the pipeline (arguments,
inputs and outputs: ``Inpainter.inpaint_batch``, the ``padding_mask_crop`` call and the VAE round
trip), and the bare loop replays them with diffusers alone (``AutoPipelineForInpainting``, one
``torch.Generator`` per image, the same sizes, prompts, strengths and step counts, the same torch
thread count), checking its outputs byte for byte against the recorded ones for the first calls
of each kind.

Usage::

    python tools/bench_overhead.py                                  # the default command: pytest benchmarks
    python tools/bench_overhead.py --artifacts none --report off    # the sweep without files
    python tools/bench_overhead.py --max-side 512 --artifacts none --report off
    python tools/bench_overhead.py --pairs 1 -- -k strength --leak-images coffee   # extra pytest arguments
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Calls of each kind whose outputs the bare loop checks byte for byte against the harness's.
CHECKED_PER_KIND = 3


def pytest_command(args: argparse.Namespace, store: Path) -> list[str]:
    """The harness side: ``pytest benchmarks`` with the variant's options, writing under ``store``'s folder."""
    command = [sys.executable, "-m", "pytest", "benchmarks", "-q", "-p", "no:cacheprovider",
               "--leak-store", str(store), "--leak-threads", str(args.threads), "--leak-progress", "off"]
    if args.max_side:
        command += ["--leak-max-side", str(args.max_side)]
    if args.artifacts != "all":
        command += ["--leak-artifacts", args.artifacts]
    if args.report == "off":
        command.append("--leak-no-report")
    return command + args.pytest_args


# -- recording: the calls the harness makes (run in its own process, untimed) ------------------

def record(out: Path, pytest_args: list[str]) -> int:
    """Run pytest in this process with ``Inpainter``'s pipeline calls recorded into ``out``."""
    import pytest

    from harness.pipelines import Inpainter

    calls: list[dict] = []
    batch, cropped, roundtrip = Inpainter.inpaint_batch, Inpainter._inpaint_cropped, Inpainter.vae_roundtrip

    def recorded_batch(self, images, masks, *, strength, seeds, steps, guidance_scale=0.0, prompt="",
                       paste_back=False):
        outputs = batch(self, images, masks, strength=strength, seeds=seeds, steps=steps,
                        guidance_scale=guidance_scale, prompt=prompt, paste_back=paste_back)
        calls.append(dict(kind="inpaint", images=list(images), masks=list(masks), strength=strength, seeds=list(seeds),
                          steps=steps, guidance_scale=guidance_scale, prompt=prompt, paste_back=paste_back,
                          outputs=outputs, folder=str(self.source.folder), scheduler=self.pipe.scheduler.config,
                          scheduler_class=type(self.pipe.scheduler).__name__))
        return outputs

    def recorded_crop(self, image, mask, padding, *, strength, seed, steps, guidance_scale, prompt, paste_back):
        output = cropped(self, image, mask, padding, strength=strength, seed=seed, steps=steps,
                         guidance_scale=guidance_scale, prompt=prompt, paste_back=paste_back)
        calls.append(dict(kind="crop", images=[image], masks=[mask], padding=padding, strength=strength, seeds=[seed],
                          steps=steps, guidance_scale=guidance_scale, prompt=prompt, paste_back=paste_back,
                          outputs=[output]))
        return output

    def recorded_roundtrip(self, image):
        output = roundtrip(self, image)
        calls.append(dict(kind="roundtrip", images=[image], outputs=[output]))
        return output

    Inpainter.inpaint_batch, Inpainter._inpaint_cropped = recorded_batch, recorded_crop
    Inpainter.vae_roundtrip = recorded_roundtrip
    code = pytest.main(pytest_args)
    with out.open("wb") as fh:
        pickle.dump(calls, fh)
    return int(code)


# -- the bare loop: the same calls with diffusers alone ---------------------------------------

def bare(calls_file: Path, threads: int) -> int:
    """Replay the recorded calls with diffusers alone; exit 1 if a checked output differs."""
    import numpy as np
    import torch
    from diffusers import AutoPipelineForInpainting
    from PIL import Image

    with calls_file.open("rb") as fh:
        calls = pickle.load(fh)
    torch.set_num_threads(threads)  # what --leak-threads sets in the harness: results depend on it
    inpaints = [c for c in calls if c["kind"] == "inpaint"]
    folder = inpaints[0]["folder"] if inpaints else str(_embedded_folder())
    pipe = AutoPipelineForInpainting.from_pretrained(folder, safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    if inpaints and type(pipe.scheduler).__name__ != inpaints[0]["scheduler_class"]:
        import diffusers

        pipe.scheduler = getattr(diffusers, inpaints[0]["scheduler_class"]).from_config(inpaints[0]["scheduler"])
    checked: dict[str, int] = {}
    mismatches = 0
    for call in calls:
        outputs = _replay(pipe, call, np, torch, Image)
        if checked.get(call["kind"], 0) < CHECKED_PER_KIND:
            checked[call["kind"]] = checked.get(call["kind"], 0) + 1
            same = all(np.array_equal(a, b) for a, b in zip(outputs, call["outputs"]))
            mismatches += not same
            if not same:
                print(f"bare loop: a {call['kind']} call's output differs from the harness's", file=sys.stderr)
    print(f"bare loop: {len(calls)} calls, outputs checked byte for byte: {checked}, mismatches: {mismatches}")
    return 1 if mismatches else 0


def _replay(pipe, call: dict, np, torch, Image) -> list:
    """One recorded call made with diffusers' own API (what the harness's family adapter passes)."""
    to_uint8 = lambda pixels: np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)  # noqa: E731
    with torch.inference_mode():
        if call["kind"] == "roundtrip":
            processor, vae = pipe.image_processor, pipe.vae
            pixels = processor.preprocess(Image.fromarray(call["images"][0])).to(vae.device, dtype=vae.dtype)
            latents = vae.encode(pixels).latent_dist.mode() * vae.config.scaling_factor
            decoded = vae.decode(latents / vae.config.scaling_factor).sample
            return [to_uint8(processor.postprocess(decoded, output_type="np")[0])]
        height, width = call["images"][0].shape[:2]
        masks = [Image.fromarray(np.where(m, 255, 0).astype(np.uint8)) for m in call["masks"]]
        images = [Image.fromarray(i) for i in call["images"]]
        generators = [torch.Generator(device="cpu").manual_seed(int(s)) for s in call["seeds"]]
        common = dict(prompt=[call["prompt"]] * len(images), height=height, width=width, strength=call["strength"],
                      num_inference_steps=call["steps"], guidance_scale=call["guidance_scale"], generator=generators)
        if call["kind"] == "crop":
            result = pipe(image=images[0], mask_image=masks[0], output_type="pil", padding_mask_crop=call["padding"],
                          **common)
            outputs = [np.asarray(result.images[0].convert("RGB"), dtype=np.uint8)]
        else:
            outputs = [to_uint8(p) for p in pipe(image=images, mask_image=masks, output_type="np", **common).images]
    if call["paste_back"]:
        outputs = [np.where(m[..., None], o, i) for o, i, m in zip(outputs, call["images"], call["masks"])]
    return outputs


def _embedded_folder() -> Path:
    from harness.pipelines.source import embedded_folder

    return embedded_folder("tiny")


# -- timing --------------------------------------------------------------------------------------

def _timed(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        sys.exit(f"bench_overhead: {' '.join(command)} exited {run.returncode}:\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_record"]:
        return record(Path(argv[1]), argv[2:])
    if argv[:1] == ["_bare"]:
        return bare(Path(argv[1]), int(argv[2]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5, help="harness/bare pairs to time (at least 5 for a figure) [5]")
    parser.add_argument("--max-side", type=int, default=None, help="--leak-max-side for the sweep [the preset's]")
    parser.add_argument("--artifacts", choices=("all", "none"), default="all", help="--leak-artifacts [all]")
    parser.add_argument("--report", choices=("on", "off"), default="on", help="write the HTML report [on]")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on both sides (--leak-threads) [1]")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments, after --")
    args = parser.parse_args(argv)
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        tmp = Path(tmp)
        calls = tmp / "calls.pkl"
        harness = pytest_command(args, tmp / "timed" / "leakage.sqlite")
        recording = [sys.executable, __file__, "_record", str(calls), *pytest_command(args, tmp / "rec" / "leakage.sqlite")[3:]]
        print("recording the harness's pipeline calls: " + " ".join(harness[2:]), flush=True)
        _timed(recording, env)
        bare_command = [sys.executable, __file__, "_bare", str(calls), str(args.threads)]
        check = subprocess.run(bare_command, cwd=REPO, env=env, capture_output=True, text=True)
        print(check.stdout.strip() or check.stderr.strip(), flush=True)
        if check.returncode != 0:
            print(check.stderr, file=sys.stderr)
            return 1
        ratios = []
        for pair in range(args.pairs):
            order = [("harness", harness), ("bare", bare_command)]
            times = dict((name, _timed(command, env)) for name, command in (order if pair % 2 == 0 else order[::-1]))
            ratios.append(times["harness"] / times["bare"])
            print(f"pair {pair + 1}: harness {times['harness']:.2f} s, bare {times['bare']:.2f} s, "
                  f"ratio {ratios[-1]:.3f}", flush=True)
    print(f"harness / bare: median {statistics.median(ratios):.3f}x (min {min(ratios):.3f}, max {max(ratios):.3f}) "
          f"over {len(ratios)} pairs; load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
