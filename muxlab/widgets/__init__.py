"""Live ipywidgets apps over the engine: :class:`Explorer` and :class:`MemoryDashboard`.

They are thin: :class:`Explorer` is a view of a :class:`muxlab.Session`
(controls from :mod:`.controls`, charts from :mod:`.live_charts` shown
through :mod:`.transports`); long work runs in background threads so the
kernel stays free for widget messages. ``ipywidgets`` (and matplotlib) are
imported here, never by the engine or the session.
"""

from .dashboard import MemoryDashboard
from .explorer import Explorer

__all__ = ["Explorer", "MemoryDashboard"]
