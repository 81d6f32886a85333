"""Former name of :mod:`muxlab.memory_probe`, kept so that ``import muxlab.instrument`` goes on working.

``muxlab.instrument`` is the very same module object as ``muxlab.memory_probe``.
"""

import sys

from . import memory_probe

sys.modules[__name__] = memory_probe
