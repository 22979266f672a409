"""The mitigation experiment on every family: a paste-back, and padding_mask_crop where the
pipeline takes it, keep the outside exactly; where it does not, crop is skipped saying so."""

from __future__ import annotations

import pytest

from harness.store import Store

FAST = ["--leak-max-side", "40", "--leak-steps", "4", "--leak-no-report", "--leak-artifacts", "none",
        "-p", "no:cacheprovider"]

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_mitigations_on_every_family(family, leak_project, test_pipelines, family_inpainters):
    takes_crop = family_inpainters[family].accepts("padding_mask_crop")
    result = leak_project.runpytest("benchmarks", "-k", "mitigation and s1.00", "--leak-pipeline",
                                    str(test_pipelines / family), *FAST)
    result.assert_outcomes(passed=5 if takes_crop else 4, skipped=0 if takes_crop else 1)
    rows = Store(leak_project.path / "reports" / "leakage.sqlite").frame().set_index("mitigation")
    assert rows.loc["paste"].mse_outside == 0.0
    assert 0.0 <= rows.loc["blend"].mse_outside <= rows.loc["none"].mse_outside
    assert rows.loc["dilate"].mitigation_px == family_inpainters[family].vae_scale_factor
    if takes_crop:
        assert rows.loc["crop"].mse_outside == 0.0  # apply_overlay keeps the outside exactly
    else:
        assert rows.loc["crop"].status == "skipped" and "takes no padding_mask_crop" in rows.loc["crop"].message
