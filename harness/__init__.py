"""inpaint-leakage: measure how much diffusion inpainting changes the pixels outside its mask."""

__version__ = "0.1.0"
