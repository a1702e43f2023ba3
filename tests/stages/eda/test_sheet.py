"""The eda page's contact sheets: labels wrapped in full, text readable at the size shown."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vidlab.stages.eda import common, sheet

LONG = ("temporal: time warp 0.2 (off: not in augment.use)",
        "0123456789abcdef\nframe rate 13.88 fps, robust z = -107.7 (median 15.00 fps; MAD is 0, "
        "scaled by the mean absolute deviation)\nflagged: probe: vfr; probe: fps_mismatch",
        "a_word_far_wider_than_any_label_column_can_hold_" * 3)


@pytest.mark.parametrize("label", LONG)
def test_a_label_wraps_in_full_within_its_column(label: str) -> None:
    lines = sheet.wrap(label, sheet.LABEL_WIDTH)
    assert all(sheet.font().getlength(line) <= sheet.LABEL_WIDTH for line in lines)
    assert "".join(lines).replace(" ", "") == label.replace(" ", "").replace("\n", "")
    assert len(lines) >= label.count("\n") + 1


def test_sheet_text_is_the_page_font_and_the_sheet_fits_the_page(tmp_path: Path) -> None:
    """Many wide frames: the thumbnails shrink so the sheet is never wider than the page shows
    it (its text would shrink with it); the PNG says the page's dpi."""
    frame = np.zeros((90, 160, 3), np.uint8)
    out = sheet.contact_sheet([(LONG[1], [frame] * 12), ("short", [frame] * 3)],
                              tmp_path / "s.png", title=LONG[0] * 4)
    with Image.open(out) as image:
        assert image.width <= common.PAGE_WIDTH
        assert round(image.info["dpi"][0]) == common.DPI
    assert sheet.font().size == common.font_px() >= 10
