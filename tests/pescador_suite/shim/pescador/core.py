"""``pescador.core`` over muxlab."""

from muxlab import MuxlabError as PescadorError  # noqa: F401
from muxlab import Streamer, streamable  # noqa: F401
