"""The sampling animation of the PixelCNN lesson as a small state machine: no widgets, no timer.

A finished sample is replayed pixel by pixel in raster order. ``step`` counts the pixels drawn
so far (0 .. n_pixels); the controls map to pure transitions that return a new state:

    play / pause    toggle ``playing`` (play on a finished canvas starts again from pixel 1)
    tick(speed)     one frame while playing: ``speed`` more pixels; stops at the last pixel
    step_pixel      one more pixel
    next_row        to the start of the next row
    restart         back to an empty canvas, paused

The page stores ``step`` and ``playing`` in its session and runs ``tick`` on a fragment timer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

SPEEDS = (1, 4, 14, 28, 112)  # pixels per animation frame: one pixel, a few, half a row, a row, four rows
FRAME_S = 0.3  # seconds between animation frames while playing


@dataclass(frozen=True)
class PixelAnimation:
    step: int = 0  # pixels drawn so far, in raster order
    playing: bool = False
    width: int = 28  # pixels per row
    n_pixels: int = 784  # pixels in the image

    @property
    def finished(self) -> bool:
        return self.step >= self.n_pixels

    def _to(self, step: int, **changes) -> PixelAnimation:
        return replace(self, step=max(0, min(self.n_pixels, step)), **changes)

    def tick(self, speed: int) -> PixelAnimation:
        """One frame: ``speed`` more pixels while playing, and stop playing at the last pixel."""
        if not self.playing:
            return self
        after = self._to(self.step + speed)
        return replace(after, playing=not after.finished)

    def toggle(self) -> PixelAnimation:
        """Play or pause; playing a finished canvas starts it again from an empty one."""
        return self._to(0 if self.finished else self.step, playing=not self.playing)

    def step_pixel(self) -> PixelAnimation:
        return self._to(self.step + 1)

    def next_row(self) -> PixelAnimation:
        return self._to((self.step // self.width + 1) * self.width)

    def restart(self) -> PixelAnimation:
        return self._to(0, playing=False)

    def next_pixel(self) -> tuple[int, int] | None:
        """(row, column) of the pixel drawn next, None once the image is finished."""
        return None if self.finished else divmod(self.step, self.width)

    def last_pixel(self) -> tuple[int, int] | None:
        """(row, column) of the pixel drawn last, None before the first."""
        return divmod(self.step - 1, self.width) if self.step else None
