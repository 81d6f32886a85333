"""``pescador.maps`` over muxlab."""

from muxlab import DataError  # noqa: F401
from muxlab import MuxlabError as PescadorError  # noqa: F401
from muxlab.maps import buffer_stream, cache, keras_tuples, tuples  # noqa: F401
