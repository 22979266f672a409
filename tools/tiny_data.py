"""The training set of the embedded tiny pipelines (used by ``tiny_training.py``).

* the bundled images (``harness.images``) except the held-out ones the VAE's PSNR bar is measured on,
* more photographs and textures that ship inside installed packages: scikit-image's data folder
  and matplotlib's sample data, read with those libraries' own loaders (nothing is downloaded),
* every image at several scales, cut into random square crops, each flipped left-right at random.

Greyscale images are repeated to three channels; an alpha channel is dropped.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from harness import images

#: Bundled images the VAE and UNets never see; the round-trip PSNR bar is measured on them.
HELD_OUT = ("coffee", "rocket", "meadow")
#: ``skimage.data`` loaders of images in scikit-image's wheel besides the bundled photographs.
SKIMAGE_EXTRA = ("brick", "camera", "cell", "clock", "coins", "colorwheel", "grass", "gravel", "logo", "moon",
                 "page", "text")
#: Files of ``matplotlib.cbook.get_sample_data`` (matplotlib's ``mpl-data/sample_data``).
MATPLOTLIB_EXTRA = ("grace_hopper.jpg",)
#: Scales (longest side) at which each training image is cut into crops.
TRAIN_SCALES = (192, 256, 384, 512)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 HxWx3 -> float 1x3xHxW in [-1, 1], the VAE's input range."""
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 127.5 - 1.0


def _rgb(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {array.dtype}")
    return np.ascontiguousarray(array[..., :3])


def extra_images() -> dict[str, np.ndarray]:
    """The training-only images from scikit-image and matplotlib, by name, as uint8 RGB."""
    import matplotlib.cbook
    import skimage.data

    extra = {f"skimage:{name}": _rgb(getattr(skimage.data, name)()) for name in SKIMAGE_EXTRA}
    for name in MATPLOTLIB_EXTRA:
        with matplotlib.cbook.get_sample_data(name) as handle:
            extra[f"matplotlib:{name}"] = images.load_image(handle.name)
    return extra


def training_images() -> dict[str, np.ndarray]:
    """Every training image by name: the bundled ones not held out, then :func:`extra_images`."""
    chosen = {name: images.load_bundled(name) for name in images.bundled_names() if name not in HELD_OUT}
    return chosen | extra_images()


@functools.lru_cache(maxsize=1)
def training_pyramid() -> tuple[torch.Tensor, ...]:
    """Every training image at each of :data:`TRAIN_SCALES` it reaches (the smallest always), as
    3xHxW tensors in [-1, 1]. Built once per process."""
    pyramid = []
    for image in training_images().values():
        for side in TRAIN_SCALES:
            if side <= max(image.shape[:2]) or side == TRAIN_SCALES[0]:
                pyramid.append(to_tensor(images.prepare(image, max_side=side, multiple=8))[0])
    return tuple(pyramid)


def _randint(high: int, generator: torch.Generator) -> int:
    return int(torch.randint(high, (1,), generator=generator))


def random_crops(pyramid: tuple[torch.Tensor, ...], crop: int, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` random ``crop``-square crops, each horizontally flipped with probability 1/2."""
    usable = [image for image in pyramid if min(image.shape[1:]) >= crop]
    batch = []
    for _ in range(count):
        image = usable[_randint(len(usable), generator)]
        top, left = _randint(image.shape[1] - crop + 1, generator), _randint(image.shape[2] - crop + 1, generator)
        patch = image[:, top : top + crop, left : left + crop]
        batch.append(patch.flip(-1) if bool(torch.rand((), generator=generator) < 0.5) else patch)
    return torch.stack(batch)
