"""Sphinx configuration: the user guide is the executed notebooks, the API reference the numpydoc docstrings.

Build: ``python -m sphinx -W -b html docs muxlab-out/docs`` (or ``muxlab docs``). The notebooks are
rendered with the outputs stored in them; nothing is executed and nothing is fetched from the network.
"""

import muxlab

project = "muxlab"
author = "the muxlab authors"
copyright = "the muxlab authors"
release = muxlab.__version__
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
]

# The notebooks are stored executed (nbval checks them); the site shows those outputs.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

exclude_patterns = ["_build", "notebooks/.ipynb_checkpoints", "notebooks/explorer.ipynb", "**/.ipynb_checkpoints"]
suppress_warnings = ["myst.header"]  # notebooks start with one H1 and may skip levels in prose cells

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()

html_theme = "furo"
html_title = f"muxlab {release}"
html_static_path = []
html_show_sourcelink = False
html_copy_source = False
# No request leaves the site: no fonts, analytics or intersphinx inventories from elsewhere.
intersphinx_mapping = {}
