"""muxlab: understand and measure how training data is streamed from disk."""

from .errors import DataError, MuxlabError, ParameterError, ParameterTypeError, StreamError
from .knob import Knob
from .streamer import Streamer, streamable

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "Knob",
    "MuxlabError",
    "ParameterError",
    "ParameterTypeError",
    "StreamError",
    "Streamer",
    "streamable",
]
