"""Serve the book's JavaScript from the build, so that the HTML works without internet.

Jupyter Book loads three scripts from public CDNs by default: MathJax (typesets the math),
require.js and the ipywidgets embed manager (display the stored widget state). This Sphinx
extension gets pinned releases of them from the npm registry instead and serves them from
``_build/html/_static/js/``:

* On ``builder-inited`` (HTML builders only) it makes sure ``_build/offline-js/`` holds the
  files of the versions pinned below. If not, it runs ``npm pack NAME@VERSION`` for each package
  (no dependencies are installed: each of the three is self-contained), checks every tarball
  against the pinned sha512 (the lock), and unpacks only the files the pages use (about 13 MB).
  ``jupyter-book clean`` removes that folder with the rest of ``_build``; the next build takes
  the tarballs from npm's cache, without network.
* It adds that folder and ``book/_ext/static/`` (``js/widgets-setup.js``) to ``html_static_path``
  and points ``mathjax_path`` and myst-nb's ``nb_ipywidgets_js`` at the local copies. These two
  settings are made here, so ``_config.yml`` must not set them.

npm (Node.js) is needed for that. Without it the build stops with an error that says what to
do. ``SHALLOWLEARN_BOOK_JS=cdn jupyter-book build .`` builds a book that loads the same pinned
versions from jsDelivr instead (it then needs internet to show math and widgets); that mode
prints a note, not a warning, so ``-W`` builds still pass. ``tests/test_built_html.py`` checks
the built pages in headless Chromium with every host but 127.0.0.1 unreachable.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

# name -> (version, sha512 of the registry tarball, as in npm's "integrity" field)
PACKAGES = {
    "mathjax": (
        "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
    ),
    "requirejs": (
        "2.3.8",
        "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
    ),
    # The embed manager of ipywidgets 8: the release built on the same @jupyter-widgets/base
    # and controls as jupyterlab_widgets 3.0.17, which ipywidgets 8.1.9 installs. embed-amd.js
    # bundles base and controls and implements @jupyter-widgets/output itself, so it fetches no
    # widget module from a CDN.
    "@jupyter-widgets/html-manager": (
        "1.0.15",
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
    ),
}

# The MathJax 3 component: TeX and MathML input, CommonHTML output (Sphinx's default choice).
# Its fonts, TeX extensions and accessibility modules load from the folders next to it.
MATHJAX_COMPONENT = "tex-mml-chtml.js"

# package -> files to unpack, as paths inside the tarball's "package/" folder: a trailing "/"
# takes a whole folder, "*" is a wildcard. package.json records version and licence.
FILES = {
    "mathjax": [
        "package.json",
        "LICENSE",
        f"es5/{MATHJAX_COMPONENT}",
        "es5/a11y/",
        "es5/adaptors/",
        "es5/input/",
        "es5/output/",
        "es5/sre/",
        "es5/ui/",
    ],
    "requirejs": ["package.json", "require.js"],
    "@jupyter-widgets/html-manager": [
        "package.json",
        "dist/embed-amd.js",
        # Font Awesome, used by the widget styles (found through widgets-setup.js); browsers
        # take the first format they support, and all current ones take woff2
        "dist/*.woff2",
        "dist/*.woff",
    ],
}

ENV_MODE = "SHALLOWLEARN_BOOK_JS"
STATIC_SUBDIR = "js"  # everything ends up in _build/html/_static/js/
CACHE_DIRNAME = "offline-js"  # in _build/, next to html/
OWN_STATIC = Path(__file__).resolve().parent / "static"  # holds js/widgets-setup.js
CDN = "https://cdn.jsdelivr.net/npm/"


def _folder(name: str) -> str:
    """The folder of a package inside _static/js/, e.g. 'html-manager@1.0.15'."""
    return f"{name.split('/')[-1]}@{PACKAGES[name][0]}"


def _urls(mode: str) -> tuple[str, dict[str, dict[str, str]]]:
    """mathjax_path and nb_ipywidgets_js: relative to _static/ (local), or jsDelivr URLs."""
    manager = "@jupyter-widgets/html-manager"
    if mode == "cdn":
        mathjax = f"{CDN}mathjax@{PACKAGES['mathjax'][0]}/es5/{MATHJAX_COMPONENT}"
        require = f"{CDN}requirejs@{PACKAGES['requirejs'][0]}/require.js"
        dist = f"{CDN}{manager}@{PACKAGES[manager][0]}/dist/"
    else:
        mathjax = f"{STATIC_SUBDIR}/{_folder('mathjax')}/es5/{MATHJAX_COMPONENT}"
        require = f"{STATIC_SUBDIR}/{_folder('requirejs')}/require.js"
        dist = f"{STATIC_SUBDIR}/{_folder(manager)}/dist/"
    widgets = {
        require: {},
        # relative to widgets-setup.js itself (in _static/js/), or absolute
        f"{STATIC_SUBDIR}/widgets-setup.js": {
            "data-embed-dist": dist if mode == "cdn" else f"{_folder(manager)}/dist/"
        },
        f"{dist}embed-amd.js": {},
    }
    return mathjax, widgets


def _mode() -> str:
    mode = os.environ.get(ENV_MODE, "").strip().lower() or "local"
    if mode not in ("local", "cdn"):
        raise ExtensionError(f"{ENV_MODE} must be 'local' (the default) or 'cdn', not {mode!r}")
    return mode


def _stamp() -> str:
    return json.dumps({"packages": PACKAGES, "files": FILES}, sort_keys=True)


def _sha512(path: Path) -> str:
    digest = hashlib.sha512()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def _npm_pack(npm: str, spec: str, dest: Path) -> Path:
    """Download one registry tarball with npm (through npm's cache); returns its path."""
    cmd = [npm, "pack", spec, "--pack-destination", str(dest), "--json",
           "--prefer-offline", "--ignore-scripts", "--loglevel=error"]
    try:
        proc = subprocess.run(cmd, cwd=dest, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired as exc:
        raise ExtensionError(f"offline_assets: `{' '.join(cmd)}` timed out") from exc
    if proc.returncode != 0:
        raise ExtensionError(
            f"offline_assets: `{' '.join(cmd)}` failed (exit {proc.returncode}):\n"
            f"{proc.stderr.strip()}\nThe npm registry must be reachable the first time the "
            f"book is built on a machine (or build with {ENV_MODE}=cdn)."
        )
    return dest / json.loads(proc.stdout)[0]["filename"]


def _wanted(rel: str, pattern: str) -> bool:
    if pattern.endswith("/"):
        return rel.startswith(pattern)
    return fnmatch.fnmatchcase(rel, pattern)


def _extract(tarball: Path, name: str, target: Path) -> None:
    patterns = FILES[name]
    matched = set()
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts
            if not member.isfile() or parts[:1] != ("package",) or ".." in parts:
                continue
            rel = "/".join(parts[1:])
            hits = {p for p in patterns if _wanted(rel, p)}
            if not hits:
                continue
            matched |= hits
            out = target / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
    missing = sorted(set(patterns) - matched)
    if missing:
        raise ExtensionError(f"offline_assets: {name}@{PACKAGES[name][0]} has no {missing}")


def ensure_assets(cache: Path) -> Path:
    """Make sure cache/static/js/ holds the pinned files, fetching them with npm if not.

    Returns cache/static, the folder to add to html_static_path.
    """
    stamp = cache / "pins.json"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == _stamp():
        return cache / "static"
    npm = shutil.which("npm")
    if npm is None:
        raise ExtensionError(
            "offline_assets: npm was not found. The book serves MathJax, require.js and the "
            "ipywidgets embed manager itself, and gets pinned releases of them from the npm "
            "registry on the first build. Install Node.js with npm (for example `apt-get "
            "install npm` on Debian or Ubuntu, or from nodejs.org) and build again, or build "
            f"with {ENV_MODE}=cdn to load them from a public CDN (the book then needs internet)."
        )
    logger.info("offline_assets: fetching %s with npm",
                ", ".join(f"{n}@{v}" for n, (v, _) in PACKAGES.items()))
    cache.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{CACHE_DIRNAME}-", dir=cache.parent))
    try:
        tarballs = work / "tarballs"
        tarballs.mkdir()
        for name, (version, integrity) in PACKAGES.items():
            tarball = _npm_pack(npm, f"{name}@{version}", tarballs)
            if (actual := _sha512(tarball)) != integrity:
                raise ExtensionError(
                    f"offline_assets: {name}@{version} does not match its pinned sha512 "
                    f"(got {actual}, expected {integrity})"
                )
            _extract(tarball, name, work / "new" / "static" / STATIC_SUBDIR / _folder(name))
        (work / "new" / "pins.json").write_text(_stamp(), encoding="utf-8")
        if cache.exists():
            shutil.rmtree(cache)
        (work / "new").rename(cache)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return cache / "static"


def _configure(app: Sphinx, config: Config) -> None:
    config.mathjax_path, config.nb_ipywidgets_js = _urls(_mode())


def _add_static(app: Sphinx) -> None:
    if app.builder.format != "html":
        return
    app.config.html_static_path.append(str(OWN_STATIC))
    if _mode() == "cdn":
        logger.info(f"offline_assets: {ENV_MODE}=cdn: the pages load MathJax, require.js and "
                    "the widget manager from jsDelivr (math and widgets need internet)")
        return
    app.config.html_static_path.append(str(ensure_assets(Path(app.outdir).parent / CACHE_DIRNAME)))


def setup(app: Sphinx) -> dict:
    # myst-nb reads nb_ipywidgets_js on builder-inited and sphinx.ext.mathjax reads mathjax_path
    # when it writes each page: both after config-inited
    app.connect("config-inited", _configure)
    app.connect("builder-inited", _add_static)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
