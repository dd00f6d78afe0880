"""``python -m core.train NAME``: train a text model (the command recorded in every text model's card).

A thin entry point; the presets and the data live in ``core.text.train``, the loop in ``core.training``.
"""

from core.text.train import main

if __name__ == "__main__":
    main()
