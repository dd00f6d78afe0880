"""Images: the image-model API (load, exact likelihood, pixel-by-pixel sampling), the inputs a user
can give it (uploads, typed pixels, shifts, noise), the MNIST digits and their training."""
