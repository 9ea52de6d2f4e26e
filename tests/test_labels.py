from sgtr.data.labels import parse_label_file


def test_tsv_paths_resolve_relative_to_the_list_including_parent_dirs(tmp_path):
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "labels.tsv").write_text("../img/a.png\tHello World\n", encoding="utf-8")
    items, skips = parse_label_file(tmp_path / "set" / "labels.tsv")
    assert items[0].path == (tmp_path / "img" / "a.png").resolve()
    assert items[0].label == "Hello World" and not skips


def test_gt_txt_splits_on_first_whitespace_and_keeps_spaces_in_label(tmp_path):
    (tmp_path / "gt.txt").write_text("a.png two words\n", encoding="utf-8")
    items, _ = parse_label_file(tmp_path / "gt.txt")
    assert items[0].label == "two words"


def test_malformed_and_non_utf8_lines_become_skips_with_line_numbers(tmp_path):
    (tmp_path / "labels.tsv").write_bytes(b"ok.png\tfine\nno-tab-here\nbad.png\t\xff\xfe\n")
    items, skips = parse_label_file(tmp_path / "labels.tsv")
    assert [i.label for i in items] == ["fine"]
    assert [s.key.rsplit(":", 1)[1] for s in skips] == ["2", "3"]


def test_a_third_tab_column_is_an_error_naming_file_and_line(tmp_path):
    import pytest

    from sgtr.data.labels import LabelFileError

    (tmp_path / "labels.tsv").write_text("a.png\tfine\nb.png\tword\t0.93\n", encoding="utf-8")
    with pytest.raises(LabelFileError, match=r"labels.tsv:2: 3 tab-separated columns"):
        parse_label_file(tmp_path / "labels.tsv")
