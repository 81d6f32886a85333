"""``pescador.util`` over muxlab: only the error class that the suite's helpers name."""

from muxlab import MuxlabError as PescadorError  # noqa: F401
