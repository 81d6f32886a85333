"""The documentation site: it builds with warnings as errors, documents every public name, and works in a browser.

The site is built once per run with ``muxlab docs --no-serve`` into a temporary
folder, or taken from ``$MUXLAB_DOCS_HTML`` when ``.ci/run`` has built it
already. ``muxlab docs --no-build`` serves it on 127.0.0.1 and headless
Chromium opens it with every request to another host aborted: the index and
each notebook page load, their images show, every internal link resolves
(fragments included), and the search page finds ``lam``. Without Sphinx,
Chromium or playwright the tests skip, except in CI (``CI`` set), where they fail.
"""

import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path
from urllib.parse import urldefrag

import pytest

import muxlab
from muxlab import cli

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("MUXLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]

#: Modules documented whole in the reference: every public function and class defined in them.
REFERENCE_MODULES = ["muxlab.stats", "muxlab.lifetimes", "muxlab.loaders", "muxlab.fixtures", "muxlab.memory_probe",
                     "muxlab.page_cache", "muxlab.plots", "muxlab.process_plots", "muxlab.memory_limit",
                     "muxlab.process_tree", "muxlab.torch"]


def in_ci():
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(ok, why):
    """Skip when ``ok`` is false, or fail in CI, where the documentation tests must run."""
    if ok:
        return
    if in_ci():
        pytest.fail(f"{why}; the documentation tests must run in CI (CI={os.environ.get('CI')!r}). "
                    "Install the 'docs' and 'test' extras and Debian's 'chromium'.", pytrace=False)
    pytest.skip(why)


def numbered_notebooks():
    return sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The built site: ``$MUXLAB_DOCS_HTML`` if it holds one, else a fresh ``muxlab docs --no-serve`` build."""
    prebuilt = os.environ.get("MUXLAB_DOCS_HTML")
    if prebuilt and (Path(prebuilt) / "index.html").is_file():
        return Path(prebuilt)
    require(importlib.util.find_spec("sphinx") is not None and importlib.util.find_spec("myst_nb") is not None,
            "Sphinx and MyST-NB are not installed (the 'docs' extra)")
    out = tmp_path_factory.mktemp("docs") / "html"
    assert cli.main(["docs", "--no-serve", "--out", str(out)]) == 0, "the site does not build with -W"
    return out


def public_names():
    """Every name the reference must document, spelled as a user imports it."""
    names = [f"muxlab.{name}" for name in muxlab.__all__]
    names += [f"muxlab.widgets.{name}" for name in importlib.import_module("muxlab.widgets").__all__]
    names.append("muxlab.mux.BaseMux")
    for module_name in REFERENCE_MODULES:
        module = importlib.import_module(module_name)
        names += [f"{module_name}.{name}" for name, value in vars(module).items()
                  if not name.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
                  and value.__module__ == module_name]
    return names


def inventory(site):
    """The names in the site's ``objects.inv`` (the index Sphinx writes of everything it documented)."""
    raw = (site / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):  # four text lines, then zlib
        header_end = raw.index(b"\n", header_end) + 1
    lines = zlib.decompress(raw[header_end:]).decode().splitlines()
    return {line.split(" ", 1)[0] for line in lines if line.strip()}


@pytest.mark.timeout(300)
def test_reference_documents_every_public_name(site):
    documented = inventory(site)
    missing = [name for name in public_names() if name not in documented]
    assert not missing, f"public names missing from the API reference (docs/api.md): {missing}"


def test_user_guide_lists_every_notebook_in_order():
    index = (REPO / "docs" / "index.md").read_text()
    listed = re.findall(r"^notebooks/(\S+)$", index, flags=re.M)
    assert listed == numbered_notebooks(), "docs/index.md's user guide must list notebooks/NN_*.ipynb in order"


def test_docs_command_refuses_to_serve_what_was_not_built(tmp_path, capsys):
    assert cli.main(["docs", "--no-build", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--no-build" in err and str(tmp_path) in err and "index.html" in err


@pytest.fixture
def served(site, tmp_path):
    """``muxlab docs --no-build`` serving ``site`` on a free port; yields its URL and stops it after."""
    log = open(tmp_path / "serve.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "muxlab", "docs", "--no-build", "--out", str(site), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if not found:
            log.seek(0)
            pytest.fail(f"muxlab docs did not say where it serves: {line!r}; stderr: {log.read()}")
        yield found.group(0)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        log.close()


IMAGES_JS = """() => Array.from(document.images).map(i => ({src: i.currentSrc, loaded: i.complete && i.naturalWidth > 0}))"""
LINKS_JS = """() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"""


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_site_in_a_browser(local_only, served):
    require(importlib.util.find_spec("playwright") is not None, "playwright (Python) is not installed")
    require(os.access(CHROMIUM, os.X_OK), f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    pages = ["index.html", "setup.html", "api.html", "pescador.html"]
    pages += [f"notebooks/{name}.html" for name in numbered_notebooks()]
    blocked, page_errors, links = [], [], set()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", local_only(blocked))
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            for path in pages:
                response = page.goto(served + path, wait_until="load", timeout=60_000)
                assert response is not None and response.status == 200, f"{path}: HTTP {response and response.status}"
                assert page.locator("article h1").count() >= 1, f"{path}: no page title"
                images = page.evaluate(IMAGES_JS)
                broken = [i["src"] for i in images if not i["loaded"]]
                assert not broken, f"{path}: images that do not show: {broken}"
                if path.startswith("notebooks/"):
                    charts = page.locator("article img").count()
                    assert charts > 0, f"{path}: a notebook page without its charts"
                    assert "Traceback" not in page.inner_text("article"), f"{path}: a stored traceback"
                links.update(href for href in page.evaluate(LINKS_JS) if href.startswith(served))

            # Every internal link: its page answers 200, and its fragment names an element of that page.
            texts, dead = {}, []
            for href in sorted(links):
                url, fragment = urldefrag(href)
                if url not in texts:
                    reply = page.request.get(url)
                    texts[url] = reply.text() if reply.status == 200 else None
                if texts[url] is None:
                    dead.append(href)
                elif fragment and f'id="{fragment}"' not in texts[url]:
                    dead.append(href)
            assert not dead, f"internal links that do not resolve: {dead}"
            assert len(texts) >= len(pages), f"only {len(texts)} internal pages linked; the navigation is missing"

            # Search runs in the page from searchindex.js.
            page.goto(served + "search.html?q=lam", wait_until="load", timeout=60_000)
            results = page.locator("#search-results ul.search li")
            results.first.wait_for(timeout=30_000)
            found = results.all_inner_texts()
            assert found, "the search page found nothing for 'lam'"
            hrefs = page.locator("#search-results ul.search li a").evaluate_all("els => els.map(a => a.href)")
            assert any("/notebooks/" in h for h in hrefs), f"searching 'lam' finds no notebook page: {hrefs}"
        finally:
            browser.close()
    assert not page_errors, f"JavaScript errors: {page_errors}"
    assert not blocked, f"the site asked for something outside itself: {blocked}"
