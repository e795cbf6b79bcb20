"""Fonts for the evidence overlays: a CJK font when one is installed, Latin-only labels otherwise.

Overlays carry Chinese labels (双人临柜, 非营业人员) for the operators and English ones beside them.
OpenCV's Hershey fonts have no CJK glyphs, so text is drawn with Pillow's FreeType binding. The
CJK font is looked up, first match wins, in:

1. ``TELLERWATCH_CJK_FONT`` (a .ttf / .otf / .ttc path),
2. the ``noto-cjk-sans-otc`` package (Noto Sans CJK, a dependency, so a pip-only install has it),
3. system fonts: WenQuanYi Micro/Zen Hei (Debian ``fonts-wqy-microhei``), Noto Sans CJK
   (``fonts-noto-cjk``), Droid Sans Fallback.

A candidate counts only if it really draws 汉字 (its glyph differs from the font's "missing
glyph" box). Without one, overlays fall back to English labels drawn with Pillow's built-in
Latin font, so a picture never shows tofu boxes.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

log = logging.getLogger(__name__)

FONT_ENV = "TELLERWATCH_CJK_FONT"
SYSTEM_CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
_PACKAGES = (("noto_cjk_sans_otc", "NotoSansCJK-Regular.ttc"),)
_PROBE = "双人临柜"

FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _package_fonts() -> list[Path]:
    found = []
    for module, name in _PACKAGES:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            continue
        for folder in (spec.submodule_search_locations or []) if spec else []:
            path = Path(folder) / name
            if path.is_file():
                found.append(path)
    return found


def draws_cjk(path: str | Path) -> bool:
    """Whether the font at ``path`` has real glyphs for Chinese (not the missing-glyph box)."""
    try:
        font = ImageFont.truetype(str(path), 32)
    except OSError:
        return False
    try:
        probe = [bytes(font.getmask(ch)) for ch in _PROBE]
        missing = bytes(font.getmask("\U000f0000"))  # a private-use code point no font draws
    except (OSError, ValueError):
        return False
    return all(p and p != missing for p in probe)


def candidates() -> list[Path]:
    paths: list[Path] = []
    env = os.environ.get(FONT_ENV)
    if env:
        paths.append(Path(env))
    paths.extend(_package_fonts())
    paths.extend(Path(p) for p in SYSTEM_CJK_FONTS)
    return paths


@functools.cache
def cjk_font_path() -> Path | None:
    """The first font that draws Chinese (see the module docstring), or None."""
    env = os.environ.get(FONT_ENV)
    for path in candidates():
        if path.is_file() and draws_cjk(path):
            return path
        if env and path == Path(env):
            log.warning("%s=%s does not draw Chinese; looking further", FONT_ENV, env)
    log.warning("no CJK font found (install noto-cjk-sans-otc or fonts-wqy-microhei, or set %s): "
                "overlays use English labels only", FONT_ENV)
    return None


@dataclass(frozen=True)
class FontSet:
    """Fonts at one pixel size, and whether Chinese labels can be drawn with them."""

    cjk: bool
    path: Path | None

    @functools.cache  # noqa: B019 - a handful of sizes per process, and FontSets live as long
    def at(self, size: int) -> FontType:
        size = max(6, int(size))
        if self.path is not None:
            try:
                return ImageFont.truetype(str(self.path), size)
            except OSError as exc:  # the file vanished or is unreadable now: Latin below
                log.warning("font %s failed to load: %s", self.path, exc)
        return ImageFont.load_default(size)


@functools.cache
def default_fonts() -> FontSet:
    path = cjk_font_path()
    return FontSet(cjk=path is not None, path=path)


LATIN_ONLY = FontSet(cjk=False, path=None)
