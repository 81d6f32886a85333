"""Collections of the user's own files: scanning by headers, keys, layouts, bad files, loaders on them."""

import io
import os
import pickle
import time
import warnings
import zipfile

import numpy as np
import pytest

import muxlab
from muxlab import Collection, DataError, DataWarning, Knob, Mux, ParameterError
from muxlab import headers as npy_headers
from muxlab.loaders import STRATEGIES, sample_npy_mmap, sample_npz, streams

NPZ_STRATEGIES = [name for name, s in STRATEGIES.items() if s.layout == "npz"]
NPY_STRATEGIES = [name for name, s in STRATEGIES.items() if s.layout == "npy"]


def song(rows, seed, features=4):
    """Arrays of one item whose rows are recognisable: features[i, 0] == labels[i] == seed * 1000 + i."""
    labels = seed * 1000 + np.arange(rows)
    features = np.repeat(labels[:, None], features, axis=1).astype("f4")
    return features, labels


def write_songs(folder, rows=(50, 80, 64, 40), compressed=True, keys=("features", "labels"), start=0):
    folder.mkdir(parents=True, exist_ok=True)
    save = np.savez_compressed if compressed else np.savez
    paths = []
    for i, k in enumerate(rows, start=start):
        f, y = song(k, i)
        arrays = dict(zip(keys, (f, y, np.ones(k, "f8"))))
        path = folder / f"song{i}.npz"
        save(path, **arrays)
        paths.append(path)
    return paths


def snapshot(folder):
    """Every file's bytes and mtime under ``folder`` (to check that nothing was written or touched)."""
    out = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            p = os.path.join(dirpath, name)
            out[p] = (open(p, "rb").read(), os.stat(p).st_mtime_ns)
    return out


# --------------------------------------------------------------------------- scanning


@pytest.mark.parametrize("compressed", [True, False], ids=["savez_compressed", "savez"])
def test_scan_reads_custom_keys_from_compressed_and_stored_archives(tmp_path, compressed):
    write_songs(tmp_path / "corpus", compressed=compressed)
    songs = Collection.scan(tmp_path / "corpus", keys=("features", "labels"))
    assert len(songs) == 4 and songs.keys == ("features", "labels") and songs.layouts == ("npz",)
    assert [item.rows for item in songs] == [50, 80, 64, 40]
    assert all(item.compressed == compressed for item in songs)
    frame = songs.to_frame()
    assert list(frame["rows"]) == [50, 80, 64, 40]
    assert list(frame["features_shape"]) == [(50, 4), (80, 4), (64, 4), (40, 4)]
    assert set(frame["labels_dtype"]) == {"<i8"}
    assert (frame["bytes"] == frame["rows"] * (16 + 8)).all()
    assert set(frame["layouts"]) == {"npz"} and set(frame["compressed"]) == {compressed}
    text = repr(songs)
    assert "\n" not in text and len(text) < 160 and "4 items" in text


def test_windows_hold_exactly_the_keys_one_and_three(tmp_path):
    write_songs(tmp_path / "one", keys=("features",))
    write_songs(tmp_path / "three", keys=("X", "Y", "weights"))
    one = Collection.scan(tmp_path / "one", keys=("features",))
    three = Collection.scan(tmp_path / "three", keys=("X", "Y", "weights"))
    for source, keys in ((one, ("features",)), (three, ("X", "Y", "weights"))):
        for name in NPZ_STRATEGIES:
            made = streams(name, source, 16, random_state=0)
            batch = next(iter(made[1]))
            assert tuple(batch) == keys
            assert all(len(v) == 16 for v in batch.values())
            first = batch[keys[0]]
            start = int(first[0] if first.ndim == 1 else first[0, 0])
            assert start // 1000 == 1  # from item 1 (song1), contiguous rows
            np.testing.assert_array_equal(np.asarray(first).reshape(16, -1)[:, 0], start + np.arange(16))


def test_trailing_shapes_and_dtypes_may_differ_between_items(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    np.savez(corpus / "a.npz", X=np.zeros((30, 3), "f4"), Y=np.arange(30))
    np.savez(corpus / "b.npz", X=np.zeros((40, 5, 2), "f8"), Y=np.arange(40, dtype="i2"))
    c = Collection.scan(corpus)
    assert [i.arrays["X"].shape for i in c] == [(30, 3), (40, 5, 2)]
    shapes = {b["X"].shape for s in streams("npz_copy", c, 8, random_state=0) for b in [next(iter(s))]}
    assert shapes == {(8, 3), (8, 5, 2)}


@pytest.mark.parametrize("order, byteorder", [("F", "<"), ("C", ">"), ("F", ">")])
def test_fortran_big_endian_and_1d_arrays_read_exactly_in_both_layouts(tmp_path, order, byteorder):
    corpus = tmp_path / "c"
    corpus.mkdir()
    X = np.asarray(np.arange(60 * 3).reshape(60, 3), dtype=f"{byteorder}f8", order=order)
    Y = np.arange(60, dtype=f"{byteorder}i4")  # 1-D
    np.savez_compressed(corpus / "a.npz", X=X, Y=Y)
    c = Collection.scan(corpus)
    h = c[0].arrays
    assert h["X"].fortran_order == (order == "F") and h["X"].dtype == X.dtype and h["Y"].shape == (60,)
    npy = c.to_npy(tmp_path / "npy", progress=False)
    assert npy[0].arrays["X"].fortran_order == (order == "F") and npy[0].arrays["X"].dtype == X.dtype
    for source, names in ((c, NPZ_STRATEGIES), (npy, NPY_STRATEGIES)):
        for name in names:
            batch = next(iter(streams(name, source, 7, random_state=3)[0]))
            i = int(batch["Y"][0])
            np.testing.assert_array_equal(batch["X"], X[i : i + 7])
            np.testing.assert_array_equal(batch["Y"], Y[i : i + 7])


def test_a_glob_a_list_of_files_and_a_nested_folder(tmp_path):
    corpus = tmp_path / "corpus"
    write_songs(corpus, rows=(30, 31))
    write_songs(corpus / "disc2" / "deep", rows=(32, 33), start=2)
    keys = ("features", "labels")
    nested = Collection.scan(corpus, keys=keys)
    assert [i.name for i in nested] == ["disc2/deep/song2", "disc2/deep/song3", "song0", "song1"]
    by_glob = Collection.scan(str(corpus / "**" / "song[13].npz"), keys=keys)
    assert sorted(i.rows for i in by_glob) == [31, 33]
    listed = Collection.scan([corpus / "song0.npz", corpus / "disc2"], keys=keys)
    assert sorted(i.rows for i in listed) == [30, 32, 33]
    with pytest.raises(DataError, match="matches no .npz or .npy file"):
        Collection.scan(str(corpus / "*.zip"))


def test_npy_groups_are_found_by_name_and_key(tmp_path):
    folder = tmp_path / "npy"
    folder.mkdir()
    for i, k in enumerate((20, 30)):
        f, y = song(k, i)
        np.save(folder / f"s{i}.features.npy", f)
        np.save(folder / f"s{i}.labels.npy", y)
    np.save(folder / "unrelated.npy", np.zeros(3))
    c = Collection.scan(folder, keys=("features", "labels"))
    assert [(i.name, i.rows, i.layouts) for i in c] == [("s0", 20, ("npy",)), ("s1", 30, ("npy",))]
    batch = next(iter(streams("npy_mmap", c, 5, random_state=0)[1]))
    assert tuple(batch) == ("features", "labels") and int(batch["labels"][0]) // 1000 == 1
    with pytest.raises(DataError, match="none named NAME.<key>.npy"):
        Collection.scan(folder, keys=("X", "Y"))


def test_items_shorter_than_n_are_left_out_with_one_warning(tmp_path):
    write_songs(tmp_path / "c", rows=(50, 10, 64, 12))
    c = Collection.scan(tmp_path / "c", keys=("features", "labels"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        made = streams("npz_copy", c, 16)
    assert len(caught) == 1 and issubclass(caught[0].category, DataWarning)
    assert "left out 2 of 4 items with fewer than n=16 rows" in str(caught[0].message)
    assert "collection.skipped(16)" in str(caught[0].message)
    assert len(made) == 2
    assert [i.name for i in c.skipped(16)] == ["song1", "song3"]
    assert list(c.skipped(16).to_frame()["rows"]) == [10, 12]
    with pytest.raises(DataError, match="fewer than n=65"):
        streams("npz", c, 65)


def test_an_item_of_exactly_n_rows_is_usable_and_not_skipped(tmp_path):
    write_songs(tmp_path / "c", rows=(16, 15, 17))
    c = Collection.scan(tmp_path / "c", keys=("features", "labels"))
    assert [i.name for i in c.skipped(16)] == ["song1"]
    assert [i.name for i in c.usable(16)] == ["song0", "song2"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        made = streams("npz_copy", c, 16)
    assert len(made) == 2 and "left out 1 of 3 items" in str(caught[0].message)


# --------------------------------------------------------------------------- bad files


def corrupt_zip(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated: the central directory is gone


def pickled_member(path):
    X = np.empty((20, 1), dtype=object)
    X[:, 0] = [Payload() for _ in range(20)]
    np.savez(path, features=X, labels=np.arange(20))


def missing_member(path):
    np.savez(path, features=np.zeros((20, 4), "f4"))


def garbage(path):
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 500)


class Payload:
    """Prints a marker if ever unpickled."""

    def __reduce__(self):
        return (print, ("MUXLAB-UNPICKLED",))


BAD = {
    "corrupt_zip": (corrupt_zip, "not a readable zip archive"),
    "pickled_object": (pickled_member, "refusing to load it"),
    "missing_key": (missing_member, "no array 'labels' in the archive (it holds 'features.npy')"),
    "not_a_zip": (garbage, "not a readable zip archive"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_file_raises_naming_it_or_is_skipped_with_one_warning(tmp_path, case, capsys):
    paths = write_songs(tmp_path / "c")
    writer, part = BAD[case]
    if case != "corrupt_zip":
        paths[2].unlink()
    writer(paths[2])
    keys = ("features", "labels")
    with pytest.raises(DataError) as err:
        Collection.scan(tmp_path / "c", keys=keys)
    assert str(paths[2]) in str(err.value) and part in str(err.value)
    with pytest.warns(DataWarning) as record:
        c = Collection.scan(tmp_path / "c", keys=keys, on_bad="skip")
    assert len(record) == 1 and str(paths[2]) in str(record[0].message)
    assert [i.name for i in c] == ["song0", "song1", "song3"]
    assert [p for p, _ in c.bad] == [str(paths[2])]
    assert "MUXLAB-UNPICKLED" not in capsys.readouterr().out


def test_every_bad_file_is_listed(tmp_path):
    paths = write_songs(tmp_path / "c")
    corrupt_zip(paths[0])
    missing_member(paths[3])
    with pytest.raises(DataError) as err:
        Collection.scan(tmp_path / "c", keys=("features", "labels"))
    message = str(err.value)
    assert "2 of 4 files are not usable" in message and str(paths[0]) in message and str(paths[3]) in message


def test_a_member_missing_in_one_npy_group(tmp_path):
    folder = tmp_path / "npy"
    folder.mkdir()
    f, y = song(20, 0)
    np.save(folder / "a.features.npy", f)
    np.save(folder / "a.labels.npy", y)
    np.save(folder / "b.features.npy", f)
    with pytest.raises(DataError, match=r"item 'b' has no file b.labels.npy"):
        Collection.scan(folder, keys=("features", "labels"))


def test_rows_must_agree_between_keys(tmp_path):
    (tmp_path / "c").mkdir()
    np.savez(tmp_path / "c" / "a.npz", X=np.zeros((20, 2)), Y=np.arange(19))
    with pytest.raises(DataError, match="'X' has 20 rows but 'Y' has 19"):
        Collection.scan(tmp_path / "c")


def test_scanning_reads_no_array_data(tmp_path, monkeypatch):
    """Headers only: a compressed member is inflated no further than its .npy header."""
    (tmp_path / "c").mkdir()
    rng = np.random.default_rng(0)
    big = rng.random((20_000, 50)).astype("f4")  # 4 MB of incompressible data
    np.savez_compressed(tmp_path / "c" / "a.npz", X=big, Y=np.arange(20_000))
    np.savez(tmp_path / "c" / "b.npz", X=big, Y=np.arange(20_000))
    read = []
    real = os.pread

    def counting(fd, n, offset):
        data = real(fd, n, offset)
        read.append(len(data))
        return data

    monkeypatch.setattr(npy_headers.os, "pread", counting)
    c = Collection.scan(tmp_path / "c")
    assert [i.rows for i in c] == [20_000, 20_000]
    assert sum(read) < 40_000, read  # vs 8 MB of array data


def test_nothing_is_unpickled_even_through_the_loaders(tmp_path, capsys):
    (tmp_path / "c").mkdir()
    pickled_member(tmp_path / "c" / "a.npz")
    with pytest.raises(DataError, match="refusing to load it"):
        streams("npz", tmp_path / "c", 4, keys=("features", "labels"))
    assert "MUXLAB-UNPICKLED" not in capsys.readouterr().out


def test_scanning_writes_nothing_and_changes_nothing(tmp_path):
    write_songs(tmp_path / "c")
    before = snapshot(tmp_path)
    c = Collection.scan(tmp_path / "c", keys=("features", "labels"))
    list(Mux(streams("npz_copy", c, 8, random_state=0), k=2, lam=4, random_state=0).generate(max_batches=50))
    assert snapshot(tmp_path) == before


def test_a_manifest_folder_is_a_collection(tmp_path):
    tiny = muxlab.fixtures.ensure("tiny")
    c = Collection.scan(tiny)
    assert c.layouts == ("npz", "npy") and len(c) == 8
    assert [i.rows for i in c] == [300, 40, 128, 257, 64, 199, 96, 173]
    assert len(Collection.scan(tiny, keys=("X",))[0].npy) == 1
    with pytest.raises(ParameterError, match="holds the keys"):
        Collection.scan(tiny, keys=("features",))


def test_a_rewritten_manifest_is_read_again(tmp_path):
    import json
    import shutil

    folder = tmp_path / "tiny"
    shutil.copytree(muxlab.fixtures.ensure("tiny"), folder)
    assert len(Collection.scan(folder)) == 8
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["items"] = manifest["items"][:3]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert [i.rows for i in Collection.scan(folder)] == [300, 40, 128]


def test_keys_must_be_distinct_and_held(tmp_path):
    write_songs(tmp_path / "c", rows=(20,))
    with pytest.raises(ParameterError, match="distinct"):
        Collection.scan(tmp_path / "c", keys=("features", "features"))
    c = Collection.scan(tmp_path / "c", keys=("features", "labels"))
    assert c.with_keys(("labels",)).keys == ("labels",)
    with pytest.raises(ParameterError, match=r"\['nope'\], which this collection does not hold"):
        c.with_keys(("labels", "nope"))


def test_the_two_layouts_of_an_item_must_hold_the_same_arrays(tmp_path):
    write_songs(tmp_path / "a", rows=(50,))
    f, y = song(40, 0)
    np.save(tmp_path / "a" / "song0.features.npy", f[:, :3])
    np.save(tmp_path / "a" / "song0.labels.npy", y)
    with pytest.raises(DataError, match="expected the same array in both layouts"):
        Collection.scan(tmp_path / "a", keys=("features", "labels"))
    (tmp_path / "b").mkdir()
    np.save(tmp_path / "b" / "song0.features.npy", f)
    np.save(tmp_path / "b" / "song0.labels.npy", y)
    a = Collection.scan(tmp_path / "a" / "song0.npz", keys=("features", "labels"))
    b = Collection.scan(tmp_path / "b", keys=("features", "labels"))
    with pytest.raises(DataError, match="has 50 rows in .* but 40 in .*expected the same item in both layouts"):
        a.add_layouts(b)


def test_non_ascii_keys_are_read_from_their_utf8_member_names(tmp_path):
    f, y = song(30, 1)
    np.savez(tmp_path / "s.npz", **{"fréquences": f, "étiquettes": y})
    c = Collection.scan(tmp_path / "s.npz", keys=("fréquences", "étiquettes"))
    assert c[0].rows == 30 and c[0].arrays["fréquences"].shape == (30, 4)


def test_an_encrypted_member_is_refused(tmp_path):
    write_songs(tmp_path / "c", rows=(20,), compressed=False)
    path = tmp_path / "c" / "song0.npz"
    data = bytearray(path.read_bytes())
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central headers
        at = data.find(signature)
        while at >= 0:
            data[at + flags_at] |= 0x1
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="'features' is encrypted"):
        Collection.scan(path, keys=("features", "labels"))


def test_bad_arguments_are_named():
    with pytest.raises(ParameterError, match="keys=()"):
        Collection.scan(".", keys=())
    with pytest.raises(ParameterError, match="on_bad='ignore'"):
        Collection.scan(".", on_bad="ignore")
    with pytest.raises(muxlab.ParameterTypeError, match="source=3"):
        Collection.scan(3)


def test_the_seed_two_file_form_and_the_mapping_form_agree(tmp_path):
    f, y = song(40, 2)
    np.save(tmp_path / "a.features.npy", f)
    np.save(tmp_path / "a.labels.npy", y)
    x, lab = tmp_path / "a.features.npy", tmp_path / "a.labels.npy"
    two = next(sample_npy_mmap(x, lab, 8, random_state=1, keys=("features", "labels")))
    mapped = next(sample_npy_mmap({"features": x, "labels": lab}, n=8, random_state=1))
    assert tuple(two) == tuple(mapped) == ("features", "labels")
    np.testing.assert_array_equal(two["features"], mapped["features"])
    with pytest.raises(ParameterError, match="pass a mapping"):
        next(sample_npy_mmap(x, lab, 8, keys=("features",)))


# --------------------------------------------------------------------------- the npz/npy readers


def test_header_reader_agrees_with_numpy_on_zip64_and_long_headers(tmp_path):
    path = tmp_path / "z.npz"
    wide = np.zeros(3, dtype=[(f"field{i}", "<f4") for i in range(3000)])  # a header longer than 64 kB
    with zipfile.ZipFile(path, "w", allowZip64=True) as zf:
        with zf.open("X.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array(f, np.ones((5, 2), ">f8"))
        with zf.open("Y.npy", "w") as f:
            np.lib.format.write_array(f, wide)
    found = npy_headers.read_npz_headers(path, ("X", "Y"))
    assert found["X"].shape == (5, 2) and found["X"].dtype == np.dtype(">f8")
    assert found["Y"].dtype == wide.dtype
    data = np.load(path)
    assert found["X"].offset == len(io.BytesIO(zipfile.ZipFile(path).read("X.npy")).getvalue()) - data["X"].nbytes


def test_zip64_sizes_and_offsets_in_the_central_directory_are_read(tmp_path):
    """Members past 4 GB keep their sizes and offsets in a zip64 extra field; rewrite a small archive that way."""
    import struct

    central, eocd = struct.Struct("<4s6H3I5HII"), struct.Struct("<4sHHHHIIH")
    plain = tmp_path / "plain.npz"
    np.savez(plain, X=np.arange(12.0).reshape(6, 2), Y=np.arange(6))
    data = plain.read_bytes()
    end = data.rfind(b"PK\x05\x06")
    fields = list(eocd.unpack_from(data, end))
    pos, entries = fields[6], []
    for _ in range(fields[4]):
        f = list(central.unpack_from(data, pos))
        name_len, extra_len, comment_len = f[10], f[11], f[12]
        name = data[pos + central.size : pos + central.size + name_len]
        extra = struct.pack("<HHQQQ", 1, 24, f[9], f[8], f[16])  # usize, csize, offset
        f[8] = f[9] = f[16] = 0xFFFFFFFF
        f[11] = len(extra)
        entries.append(central.pack(*f) + name + extra)
        pos += central.size + name_len + extra_len + comment_len
    directory = b"".join(entries)
    fields[5] = len(directory)
    path = tmp_path / "zip64.npz"
    path.write_bytes(data[: fields[6]] + directory + eocd.pack(*fields))
    with np.load(path) as loaded:  # a valid archive: numpy reads it
        np.testing.assert_array_equal(loaded["X"], np.arange(12.0).reshape(6, 2))
    assert npy_headers.read_npz_headers(path, ("X", "Y")) == npy_headers.read_npz_headers(plain, ("X", "Y"))
    assert [i.rows for i in Collection.scan(path)] == [6]


# --------------------------------------------------------------------------- scan rate

@pytest.mark.slow
@pytest.mark.timeout(300)
def test_scan_rate_on_20000_small_files(tmp_path):
    """Writes 20,000 small archives and prints the warm scan rate (checked by the benchmark, not here)."""
    folder = tmp_path / "many"
    buf = io.BytesIO()
    np.savez(buf, X=np.zeros((8, 4), "f4"), Y=np.arange(8))
    data = buf.getvalue()
    for sub in range(20):
        (folder / f"{sub:02d}").mkdir(parents=True)
        for i in range(1000):
            (folder / f"{sub:02d}" / f"f{i:04d}.npz").write_bytes(data)
    Collection.scan(folder)  # warm: directory entries and headers in the page cache
    rates = []
    for _ in range(3):
        t0 = time.perf_counter()
        c = Collection.scan(folder)
        rates.append(len(c) / (time.perf_counter() - t0))
    assert len(c) == 20_000 and {i.rows for i in c} == {8}
    print(f"\nscan rate, 20,000 files, warm: median {sorted(rates)[1]:,.0f} files/s (runs: {', '.join(f'{r:,.0f}' for r in rates)})")


def test_a_symbolic_link_loop_is_walked_once(tmp_path):
    write_songs(tmp_path / "c", rows=(20, 21))
    os.symlink(tmp_path / "c", tmp_path / "c" / "loop")
    assert [i.rows for i in Collection.scan(tmp_path / "c", keys=("features", "labels"))] == [20, 21]
