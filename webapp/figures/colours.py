"""The diverging colour scale of the lab's figures, and a value's colour on it (as plotly computes it)."""
from __future__ import annotations

from functools import cache

import numpy as np
from plotly.colors import get_colorscale

COLORSCALE = "RdBu_r"
COLOUR_BINS = 20  # edges are drawn in this many colour steps (one trace each), exact values are in the hover


@cache
def _even_stops() -> tuple[tuple[float, str], ...]:
    colours = [colour for _, colour in get_colorscale(COLORSCALE)]
    return tuple((k / (len(colours) - 1), colour) for k, colour in enumerate(colours))


def colorscale() -> list[list]:
    """COLORSCALE as explicit [position, colour] stops, evenly spaced as plotly.py writes a named scale
    (plotly.js has no reversed '_r' names)."""
    return [[stop, colour] for stop, colour in _even_stops()]


@cache
def _scale() -> tuple[np.ndarray, np.ndarray]:
    """The colour scale's stops (as plotly.colors has them) and their colours as rows of (r, g, b) in [0, 1]."""
    stops, colours = zip(*get_colorscale(COLORSCALE))
    rgb = [[int(channel) for channel in colour.removeprefix("rgb(").removesuffix(")").split(",")]
           for colour in colours]
    return np.array(stops, dtype=float), np.array(rgb, dtype=float) / 255.0


def colours_at(positions) -> list[str]:
    """'rgb(r, g, b)' of the colour scale at each position in [0, 1], interpolated linearly.

    The arithmetic is plotly's `sample_colorscale` (the stop at or after each
    position, channels in [0, 1], rounded half to even), done for all positions at once.
    """
    stops, rgb = _scale()
    positions = np.asarray(positions, dtype=float)
    high = np.searchsorted(stops, positions, side="left")
    low = high - 1  # -1 at position 0, which interpolates fully onto the first stop, as plotly does
    interpolant = (positions - stops[low]) / (stops[high] - stops[low])
    colour = rgb[low] + interpolant[:, None] * (rgb[high] - rgb[low])
    return [f"rgb({r}, {g}, {b})" for r, g, b in np.rint(colour * 255.0).astype(int).tolist()]


@cache
def bin_colours() -> tuple[str, ...]:
    """The colour of each of the COLOUR_BINS + 1 bins."""
    return tuple(colours_at(np.arange(COLOUR_BINS + 1) / COLOUR_BINS))


def colour_bins(values: np.ndarray, largest: float) -> np.ndarray:
    """The colour bin (0..COLOUR_BINS) of each value in [-largest, largest]; values beyond it are clipped."""
    position = np.clip((np.asarray(values, dtype=float) / largest + 1) / 2, 0.0, 1.0)
    return np.rint(position * COLOUR_BINS).astype(int)
