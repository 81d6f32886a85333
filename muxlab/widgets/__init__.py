"""Live ipywidgets apps over the engine: :class:`Explorer` and :class:`MemoryDashboard`.

They are thin: they hold engine objects, set their parameters, and redraw
from their counters; long work runs in background threads so the kernel
stays free for widget messages. ``ipywidgets`` (and matplotlib) are imported
here, never by the engine.
"""

from .dashboard import MemoryDashboard
from .explorer import Explorer

__all__ = ["Explorer", "MemoryDashboard"]
