"""No module of muxlab reaches into another module's private names, but through a declared protocol."""

import ast
import typing
from pathlib import Path

import muxlab

PACKAGE = Path(muxlab.__file__).parent

#: Private names of other libraries that muxlab needs, with the reason.
ALLOWED = {
    ("memory_probe.py", "_fields"): "a namedtuple's field names: public API spelled with an underscore",
    ("widgets/transports.py", "_png_is_old"): "ipympl sends a fresh PNG only when its canvas says the last is old",
}


def modules():
    return {p.relative_to(PACKAGE).as_posix(): ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}


def defined_here(tree):
    """The private names a module defines itself: functions, classes, module names, and attributes it sets on self."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__ entries
    return names


def declared_protocols(trees):
    """The methods of muxlab's ``typing.Protocol`` classes: the interfaces modules may call each other through."""
    declared = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(ast.unparse(b) in ("typing.Protocol", "Protocol") for b in node.bases):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        declared[item.name] = node.name
    return declared


def is_own(value):
    """``self``, ``cls`` or ``super()``: the object's own names."""
    if isinstance(value, ast.Name):
        return value.id in ("self", "cls")
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super"


def reaches():
    trees = modules()
    declared = declared_protocols(trees)
    found = []
    for name, tree in trees.items():
        own = defined_here(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                found += [(name, alias.name) for alias in node.names if alias.name.startswith("_")]
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.endswith("__"):
                if not is_own(node.value) and node.attr not in own and node.attr not in declared:
                    found.append((name, node.attr))
    return found, declared


def test_no_module_reaches_another_modules_private_names():
    found, _ = reaches()
    assert [f for f in found if f not in ALLOWED] == []


def test_the_allowed_reaches_are_still_needed_and_the_protocols_are_documented():
    found, declared = reaches()
    assert set(ALLOWED) <= set(found)  # an entry no longer needed goes
    assert {"_open", "_emit", "_stream_failed"} <= set(declared)
    for cls in (muxlab.streamer.Activatable, muxlab.mux.base.PassHost):
        assert issubclass(cls, typing.Protocol) and cls.__doc__
        for method in (m for m in vars(cls) if m.startswith("_") and not m.startswith("__")):
            assert getattr(cls, method).__doc__, method


def test_the_check_sees_a_reach():
    tree = ast.parse("def f(mux):\n    return mux._n_active\n")
    assert [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and not is_own(n.value)] == ["_n_active"]
    assert "_n_active" not in defined_here(tree)
