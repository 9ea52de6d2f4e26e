import io

import lmdb
import numpy as np
import pytest
from PIL import Image

from sgtr.data import lmdb_format as fmt
from sgtr.data.datasets import LmdbDataset, discover_sets, open_dataset
from sgtr.data.labels import LabelledPath
from sgtr.data.lmdb_writer import create_lmdb
from sgtr.data.sample import Sample
from sgtr.data.skips import Skip


def _png(color=(200, 10, 10), size=(12, 6)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def _items(tmp_path, n=3):
    items = []
    for i in range(n):
        p = tmp_path / f"{i}.png"
        p.write_bytes(_png())
        items.append(LabelledPath(p, f"w{i}", f"labels.tsv:{i + 1}"))
    return items


def test_written_lmdb_reads_back_in_standard_layout(tmp_path):
    report = create_lmdb(_items(tmp_path), tmp_path / "db")
    ds = LmdbDataset(tmp_path / "db")
    assert report.written == len(ds) == 3
    assert [ds[i].label for i in range(3)] == ["w0", "w1", "w2"]
    with ds.env.begin() as txn:
        assert txn.get(b"num-samples") == b"3" and txn.get(b"label-000000001") == b"w0"


def test_bad_images_are_skipped_and_named_once(tmp_path):
    items = _items(tmp_path, 2)
    (tmp_path / "bad.png").write_bytes(b"garbage")
    items += [LabelledPath(tmp_path / "bad.png", "x", "l:3"), LabelledPath(tmp_path / "gone.png", "y", "l:4")]
    report = create_lmdb(items, tmp_path / "db")
    assert report.written == 2
    assert sorted(s.key.rsplit("/", 1)[1] for s in report.skipped.skips) == ["bad.png", "gone.png"]


def test_interrupted_write_leaves_no_database(tmp_path):
    def items():
        yield from _items(tmp_path, 2)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        create_lmdb(items(), tmp_path / "db")
    assert not (tmp_path / "db").exists()
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_existing_output_is_not_overwritten_by_default(tmp_path):
    create_lmdb(_items(tmp_path), tmp_path / "db")
    with pytest.raises(FileExistsError):
        create_lmdb(_items(tmp_path), tmp_path / "db")


def _raw_lmdb(path, records, masks=None):
    path.mkdir(parents=True)
    with lmdb.open(str(path), map_size=1 << 24) as env, env.begin(write=True) as txn:
        for i, (img, label) in enumerate(records, 1):
            txn.put(fmt.image_key(i), img)
            txn.put(fmt.label_key(i), label)
            if masks is not None:
                buf = io.BytesIO()
                Image.fromarray(masks[i - 1]).save(buf, "PNG")
                txn.put(fmt.mask_key(i), buf.getvalue())
        txn.put(b"num-samples", str(len(records)).encode())


def test_corrupt_records_yield_skips_not_exceptions(tmp_path):
    _raw_lmdb(tmp_path / "db", [(_png(), b"ok"), (b"\x89PNG broken", b"x"), (_png(), b"\xff\xfe")])
    ds = LmdbDataset(tmp_path / "db")
    kinds = [type(ds[i]) for i in range(3)]
    assert kinds == [Sample, Skip, Skip]
    assert "UTF-8" in ds[2].reason


def test_masks_are_read_when_present(tmp_path):
    mask = np.zeros((6, 12), dtype=np.uint8)
    mask[:, 2:5] = 1
    _raw_lmdb(tmp_path / "db", [(_png(), b"a")], masks=[mask])
    assert np.array_equal(LmdbDataset(tmp_path / "db")[0].mask, mask)


def test_nested_lmdbs_are_found_recursively_and_concatenated(tmp_path):
    _raw_lmdb(tmp_path / "root" / "MJ" / "train", [(_png(), b"a")])
    _raw_lmdb(tmp_path / "root" / "ST", [(_png(), b"b"), (_png(), b"c")])
    assert len(open_dataset(tmp_path / "root")) == 3
    assert set(discover_sets(tmp_path / "root")) == {"MJ", "ST"}


def test_dataset_pickles_without_an_open_environment(tmp_path):
    import pickle

    _raw_lmdb(tmp_path / "db", [(_png(), b"a")])
    ds = LmdbDataset(tmp_path / "db")
    ds[0]
    assert pickle.loads(pickle.dumps(ds))[0].label == "a"


def test_a_root_of_label_folders_opens_as_one_concatenated_set(tmp_path):
    for name, n in (("a", 2), ("b", 3)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "labels.tsv").write_text("".join(f"{i}.png\tw\n" for i in range(n)))
    assert len(open_dataset(tmp_path)) == 5
