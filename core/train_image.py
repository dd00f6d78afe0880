"""``python -m core.train_image NAME``: train an image model (the command recorded in its card).

A thin entry point; the presets and the data live in ``core.image.train``, the loop in ``core.training``.
"""

from core.image.train import main

if __name__ == "__main__":
    main()
