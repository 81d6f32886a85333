"""The explorer's controls: one small factory per kind, and the grid that lines them up.

Every control carries its label beside it, in a column of the same width
(:data:`LABEL_WIDTH`), and stretches to the width of the panel, so a slider's
track is the panel's width less the label and the readout: about 550 px in
a 1280 px wide browser, never the 34 px that a 300 px slider with a long
label leaves. Values that span orders of magnitude (``lam``, ``n``) move on
a log scale; every readout can be typed into.
"""

import math

import ipywidgets as widgets

__all__ = ["LABEL_WIDTH", "control_panel", "int_slider", "log_slider", "menu", "run_button", "set_running", "widen"]

#: Width of the label column: fits "lam (samples / activation)" in JupyterLab's and Voila's fonts.
LABEL_WIDTH = "14em"

#: Widest the panel grows (wider screens leave the rest empty, next to the charts' width).
PANEL_MAX_WIDTH = "62em"

#: Steps of a log slider, in powers of its base: 20 steps per doubling.
LOG_STEP = 0.05

_STYLE = {"description_width": LABEL_WIDTH}


def _tagged(widget, css_class):
    widget.add_class(css_class)
    return widget


def int_slider(description, value, minimum, maximum, css_class):
    """An integer slider as wide as the panel, its label in the label column."""
    return _tagged(
        widgets.IntSlider(value=value, min=minimum, max=maximum, description=description, style=_STYLE,
                          layout=widgets.Layout(width="100%"), continuous_update=True),
        css_class,
    )


def log_steps(minimum, maximum, base=2):
    """Exponents ``(low, high, step)`` of a log slider from ``minimum`` to ``maximum``, ``high`` on a step.

    >>> log_steps(1, 256)
    (0.0, 8.0, 0.05)
    >>> low, high, step = log_steps(1, 40)
    >>> round(2**high), round((high - low) / step)
    (40, 107)
    """
    low, high = math.log(minimum, base), math.log(maximum, base)
    steps = max(1, math.ceil(round((high - low) / LOG_STEP, 9)))
    return low, high, (high - low) / steps


def log_slider(description, value, minimum, maximum, css_class, readout_format=".3"):
    """A slider on a log scale (base 2) from ``minimum`` to ``maximum``, as wide as the panel."""
    low, high, step = log_steps(minimum, maximum)
    return _tagged(
        widgets.FloatLogSlider(value=value, base=2, min=low, max=high, step=step, description=description,
                               readout_format=readout_format, style=_STYLE, layout=widgets.Layout(width="100%"),
                               continuous_update=True),
        css_class,
    )


def widen(slider, value):
    """Stretch ``slider``'s range up to ``value``: a value set in code may lie beyond the range a person drags.

    Without this a slider would clamp the value to its end and send that back.

    >>> s = int_slider('k', 32, 1, 128, 'muxlab-k')
    >>> widen(s, 300); s.max
    300
    >>> s = log_slider('lam', 16, 1, 256, 'muxlab-lam')
    >>> widen(s, 1024); s.base**s.max
    1024.0
    """
    if isinstance(slider, widgets.FloatLogSlider):
        exponent = math.log(value, slider.base)
        if exponent > slider.max:
            slider.max = exponent
    elif value > slider.max:
        slider.max = value


def menu(description, options, value, css_class):
    """A dropdown with its label in the label column."""
    return _tagged(
        widgets.Dropdown(options=list(options), value=value, description=description, style=_STYLE,
                         layout=widgets.Layout(width=f"calc({LABEL_WIDTH} + 14em)")),
        css_class,
    )


def run_button(css_class="muxlab-run"):
    """The Run/Pause toggle; :func:`set_running` shows its state."""
    button = _tagged(widgets.ToggleButton(value=False, tooltip="start or pause streaming",
                                          layout=widgets.Layout(width="9em")), css_class)
    set_running(button, False)
    return button


def set_running(button, running):
    """Show ``running`` on the Run/Pause toggle: a coloured, pressed "Pause" while streaming, a "Run" when not.

    A plain pressed toggle is drawn grey, like a disabled one; the button
    styles colour it instead.
    """
    button.description = "Pause" if running else "Run"
    button.icon = "pause" if running else "play"
    button.button_style = "warning" if running else "success"
    if button.value != running:
        button.value = running


def control_panel(rows, css_class="muxlab-controls"):
    """Stack ``rows`` in a one-column grid as wide as the output, at most :data:`PANEL_MAX_WIDTH`."""
    return _tagged(
        widgets.GridBox(list(rows), layout=widgets.Layout(grid_template_columns="minmax(0, 1fr)",
                                                          grid_gap="2px 0", width="100%",
                                                          max_width=PANEL_MAX_WIDTH)),
        css_class,
    )
