"""``tools/build_test_pipelines.py``: tiny random-weight folders of every family, offline, safetensors only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "build_test_pipelines.py"
#: what the hub checkpoints of each family name in model_index.json, and the tool imitates
FOLDER_CLASSES = {"sd": "StableDiffusionInpaintPipeline", "sd-9ch": "StableDiffusionInpaintPipeline",
                  "sd-legacy": "StableDiffusionInpaintPipelineLegacy", "sdxl": "StableDiffusionXLInpaintPipeline",
                  "sd3": "StableDiffusion3Pipeline", "flux": "FluxPipeline", "flux-fill": "FluxFillPipeline"}


def test_every_family_is_built_with_safetensors_weights_only(test_pipelines):
    assert sorted(p.name for p in test_pipelines.iterdir()) == sorted(FOLDER_CLASSES)
    for name, class_name in FOLDER_CLASSES.items():
        folder = test_pipelines / name
        assert json.loads((folder / "model_index.json").read_text())["_class_name"] == class_name
        weights = [p for p in folder.rglob("*") if p.suffix in (".safetensors", ".bin", ".pt", ".pth", ".ckpt")]
        assert weights and all(p.suffix == ".safetensors" for p in weights), name


def test_the_t5_tokenizer_is_a_working_t5_tokenizer_folder(test_pipelines):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(test_pipelines / "flux" / "tokenizer_2"))
    assert type(tokenizer).__name__ in ("T5TokenizerFast", "T5Tokenizer")
    ids = tokenizer("a red barn").input_ids
    assert ids[-1] == tokenizer.eos_token_id and tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == "a red barn"


def test_the_clip_tokenizer_is_the_embedded_pipelines_one(test_pipelines):
    from harness.pipelines.source import embedded_folder

    built, embedded = (json.loads((folder / "tokenizer" / "tokenizer.json").read_text())
                       for folder in (test_pipelines / "sdxl", embedded_folder("tiny")))
    assert built["model"]["vocab"] == embedded["model"]["vocab"] and built["model"]["merges"] == embedded["model"]["merges"]


def test_family_chooses_what_is_built_and_a_bad_name_is_refused(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path), "--family", "sd3"], check=True,
                   capture_output=True, env=env)
    assert [p.name for p in tmp_path.iterdir()] == ["sd3"]
    result = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path), "--family", "kandinsky"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "argument --family: invalid choice: 'kandinsky'" in result.stderr
