"""The one rule for which frames the live network sees, used by streaming and training.

Frame t is restored from frames t-past .. t+lookahead. Where the clip has no such frame
(the start of a stream, or its end once flushed) the nearest frame that exists stands in:
the first frame for missing past, the last one for missing look-ahead. Training on clips
and deblurring a stream must agree on this, or the network meets edge windows it never
saw in training; ``test_training`` runs both over one clip and requires equal outputs.
"""

from __future__ import annotations


def window_indices(index: int, length: int, past: int, lookahead: int) -> list[int]:
    """Indices into a clip of ``length`` frames that make frame ``index``'s window."""
    if not 0 <= index < length:
        raise IndexError(f"frame {index} is outside a clip of {length} frames")
    return [min(max(i, 0), length - 1) for i in range(index - past, index + lookahead + 1)]
