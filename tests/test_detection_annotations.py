"""The detection CSV format: round trips, and one clear error per kind of bad file."""

from __future__ import annotations

import numpy as np
import pytest

from thalweg.detection import as_box_table, boxes_by_image, read_boxes_csv, write_boxes_csv
from thalweg.errors import DataError, ThalwegError

HEADER = "image,x_min,y_min,x_max,y_max,label\n"


def write(tmp_path, text, name="boxes.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_write_then_read_gives_the_same_table_with_scores_and_extra_columns(tmp_path):
    table = {
        "image": np.array(["a.png", "b.png", "b.png"]),
        "x_min": np.array([1.5, 0.1, 2.0]),
        "y_min": np.array([2.0, 3.25, 4.0]),
        "x_max": np.array([10.0, 7.3, 1234567.0]),
        "y_max": np.array([12.0, 9.0, 8.0]),
        "label": np.array(["face", "face", "cat"]),
        "score": np.array([0.9, 0.123456789, 1e-5]),
    }
    path = tmp_path / "out" / "boxes.csv"
    write_boxes_csv(path, table)
    text = path.read_text()
    assert text.splitlines()[0] == "image,x_min,y_min,x_max,y_max,label,score"
    assert "1234567," in text  # whole pixels written as integers, not 1.23457e+06
    back = read_boxes_csv(path)
    for name, values in table.items():
        np.testing.assert_array_equal(back[name], values)


def test_read_skips_blank_lines_and_strips_spaces(tmp_path):
    path = write(tmp_path, HEADER + "a.png, 1, 2, 3, 4, face\n\nb.png,0,0,1,1,face\n")
    table = read_boxes_csv(path)
    assert table["image"].tolist() == ["a.png", "b.png"]
    assert table["x_max"].tolist() == [3.0, 1.0]


@pytest.mark.parametrize(
    "text, message",
    [
        ("image,x_min,y_min,x_max,label\na,1,2,3,face\n", "missing column\\(s\\) y_max"),
        (
            HEADER + "a.png,1,2,3,4,face\na.png,9,2,3,4,face\n",
            "line 3: x_max \\(3\\) < x_min \\(9\\)",
        ),
        (HEADER + "a.png,1,2,3,1,face\n", "line 2: y_max \\(1\\) < y_min \\(2\\)"),
        (HEADER + "a.png,1,two,3,4,face\n", "line 2: y_min is 'two', not a number"),
        (HEADER + "a.png,1,2,3,4\n", "line 2: 5 fields, but the header has 6"),
        (HEADER + "a.png,1,2,nan,4,face\n", "line 2: x_max is nan; it must be finite"),
        ("", "is empty"),
    ],
)
def test_bad_files_get_one_line_errors_with_the_line_number(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ThalwegError, match=message) as error:
        read_boxes_csv(path)
    assert "\n" not in str(error.value)


def test_a_missing_file_is_named():
    with pytest.raises(DataError, match="no such file"):
        read_boxes_csv("/nonexistent/boxes.csv")


def test_as_box_table_checks_tables_given_in_python():
    good = {"image": [1], "x_min": [0], "y_min": [0], "x_max": [1], "y_max": [1], "label": [0]}
    assert as_box_table(good)["x_min"].dtype == np.float64
    with pytest.raises(DataError, match="different lengths"):
        as_box_table(good | {"label": [0, 1]})
    with pytest.raises(DataError, match="a dict of columns"):
        as_box_table([1, 2, 3])
    with pytest.raises(DataError, match="missing column\\(s\\) score"):
        as_box_table(good, score=True)


def test_boxes_by_image_gives_the_batch_lists_in_the_order_asked():
    table = {"image": ["b", "a", "b"], "x_min": [0, 1, 2], "y_min": [0, 1, 2],
             "x_max": [5, 6, 7], "y_max": [5, 6, 7], "label": ["x", "y", "z"]}  # fmt: skip
    boxes, labels = boxes_by_image(table)
    assert [b.tolist() for b in boxes] == [[[1, 1, 6, 6]], [[0, 0, 5, 5], [2, 2, 7, 7]]]
    assert [lab.tolist() for lab in labels] == [["y"], ["x", "z"]]
    boxes, _ = boxes_by_image(table, images=["c"])
    assert boxes[0].shape == (0, 4)
