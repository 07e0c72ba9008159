"""GCT 1.2 reader: layout, gene selection, top-variance genes, bad files."""

from __future__ import annotations

import gzip
import logging

import numpy as np
import pytest

from hrc.data.gct import gene_stem, read_gct, read_gct_header
from hrc.errors import DataError

SAMPLES = ["GTEX-A1-0001-SM-1", "GTEX-A1-0002-SM-2", "GTEX-B22-0003-SM-3"]
# Five genes x three samples; line 2 states a stale, larger shape on purpose.
ROWS = [
    ("ENSG01.1", "AAA", [0.0, 0.0, 0.0]),
    ("ENSG02.5", "BBB", [1.0, 3.0, 7.0]),
    ("ENSG03.2", "CCC", [0.0, 15.0, 0.0]),
    ("ENSG04.1", "DDD", [3.0, 3.0, 3.0]),
    ("ENSG05.9_PAR_Y", "EEE", [1.0, 0.0, 1.0]),
]


def gct_text(rows=ROWS, samples=SAMPLES, shape="56200\t17382") -> str:
    lines = ["#1.2", shape, "\t".join(["Name", "Description", *samples])]
    for name, symbol, values in rows:
        lines.append("\t".join([name, symbol, *(f"{v:g}" for v in values)]))
    return "\n".join(lines) + "\n"


@pytest.fixture(params=["plain", "gzip"])
def gct_path(request, tmp_path):
    if request.param == "plain":
        path = tmp_path / "m.gct"
        path.write_text(gct_text())
    else:
        path = tmp_path / "m.gct.gz"
        path.write_bytes(gzip.compress(gct_text().encode()))
    return path


def test_reads_transposed_float32_in_fortran_order(gct_path):
    matrix = read_gct(gct_path, chunk_rows=2)
    assert matrix.sample_ids == SAMPLES
    assert matrix.gene_ids == [r[0] for r in ROWS]
    assert matrix.gene_symbols == ["AAA", "BBB", "CCC", "DDD", "EEE"]
    assert matrix.expression.dtype == np.float32
    assert matrix.expression.flags.f_contiguous
    expected = np.array([r[2] for r in ROWS], dtype=np.float32).T
    np.testing.assert_array_equal(matrix.expression, expected)


def test_header_ignores_stale_shape_line(gct_path):
    assert read_gct_header(gct_path) == SAMPLES


def test_sample_subset_keeps_requested_order(gct_path):
    matrix = read_gct(gct_path, sample_ids=[SAMPLES[2], SAMPLES[0]])
    assert matrix.sample_ids == [SAMPLES[2], SAMPLES[0]]
    np.testing.assert_array_equal(matrix.expression[:, 1], [7.0, 1.0])


def test_gene_ids_match_with_or_without_version(gct_path, caplog):
    wanted = {"ENSG02", "ENSG03.9", "ENSG05", "ENSG99.1"}
    with caplog.at_level(logging.WARNING, logger="hrc"):
        matrix = read_gct(gct_path, gene_ids=wanted)
    assert matrix.gene_ids == ["ENSG02.5", "ENSG03.2", "ENSG05.9_PAR_Y"]
    np.testing.assert_array_equal(matrix.expression[:, 1], [0.0, 15.0, 0.0])
    assert "1 of 4 requested gene ids are not in" in caplog.text
    assert "ENSG99" in caplog.text


def test_no_known_gene_is_a_data_error(gct_path):
    with pytest.raises(DataError, match="none of the 2 requested gene ids"):
        read_gct(gct_path, gene_ids=["ENSG77", "ENSG88.1"])


def test_top_variance_keeps_highest_log2_variance_in_file_order(gct_path):
    # log2(x+1) rows: ENSG02 -> [1, 2, 3], var 2/3; ENSG03 -> [0, 4, 0], var
    # 32/9; ENSG05 -> [1, 0, 1], var 2/9; ENSG01 and ENSG04 constant, var 0.
    matrix = read_gct(gct_path, top_variance=2, chunk_rows=1)
    assert matrix.gene_ids == ["ENSG02.5", "ENSG03.2"]
    assert matrix.expression.flags.f_contiguous
    np.testing.assert_array_equal(matrix.expression[:, 0], [1.0, 3.0, 7.0])
    three = read_gct(gct_path, top_variance=3, chunk_rows=2)
    assert three.gene_ids == ["ENSG02.5", "ENSG03.2", "ENSG05.9_PAR_Y"]


def test_top_variance_ties_go_to_the_earlier_row(gct_path):
    # ENSG01 and ENSG04 both have variance 0; only the first is kept.
    matrix = read_gct(gct_path, gene_ids=["ENSG01", "ENSG04"], top_variance=1)
    assert matrix.gene_ids == ["ENSG01.1"]


def test_top_variance_larger_than_file_keeps_all(gct_path, caplog):
    with caplog.at_level(logging.WARNING, logger="hrc"):
        matrix = read_gct(gct_path, top_variance=50)
    assert len(matrix.gene_ids) == 5
    assert "50 top-variance genes asked for, but only 5 are available" in caplog.text


def test_top_variance_does_not_depend_on_chunk_size(tmp_path):
    rng = np.random.default_rng(0)
    rows = [
        (f"ENSG{i:03d}.1", f"G{i}", list(rng.gamma(0.5, 20, size=3))) for i in range(40)
    ]
    path = tmp_path / "r.gct"
    path.write_text(gct_text(rows=rows))
    values = np.log2(np.array([r[2] for r in rows], dtype=np.float32) + 1.0)
    expected = sorted(np.argsort(-values.astype(np.float64).var(axis=1))[:7])
    for chunk_rows in (1, 3, 64):
        matrix = read_gct(path, top_variance=7, chunk_rows=chunk_rows)
        assert matrix.gene_ids == [rows[i][0] for i in expected]


def test_blank_trailing_lines_are_ignored(tmp_path):
    path = tmp_path / "m.gct"
    path.write_text(gct_text() + "\n\n")
    assert len(read_gct(path).gene_ids) == 5


def test_gene_stem():
    assert gene_stem("ENSG00000117118.9") == "ENSG00000117118"
    assert gene_stem("ENSG00000002586.18_PAR_Y") == "ENSG00000002586"
    assert gene_stem(" ENSG00000117118 ") == "ENSG00000117118"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '"Tissue Sample ID","Tissue"\n"GTEX-1","Lung"\n',
            'is not a GCT 1.2 file: line 1 is \'"Tissue Sample ID","Tissue"\', '
            "expected '#1.2'",
        ),
        ("#1.2\n1\t0\nName\tDescription\n", "line 3 names no sample id"),
        ("#1.2\n1\t3\nid\tsym\tS1\n", "line 3 must start with 'Name<TAB>Description'"),
        (
            gct_text(rows=[("ENSG1.1", "A", [1.0, 2.0])]),
            "line 4 has 2 values, expected 3",
        ),
        (gct_text().replace("\t7\n", "\tNA\n"), "line 5 holds a value that is not a"),
        (
            "#1.2\n1\t3\n" + "\t".join(["Name", "Description", *SAMPLES]) + "\n",
            "no gene",
        ),
    ],
)
def test_bad_files_raise_one_line_data_errors(tmp_path, text, message):
    path = tmp_path / "bad.gct"
    path.write_text(text)
    with pytest.raises(DataError, match="--expression: ") as info:
        read_gct(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_truncated_gzip_is_a_data_error(tmp_path):
    rows = [(f"ENSG{i}.1", "S", [float(i)] * 3) for i in range(3000)]
    data = gzip.compress(gct_text(rows=rows).encode())
    path = tmp_path / "cut.gct.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="is truncated or corrupt"):
        read_gct(path)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="--expression: file not found: "):
        read_gct(tmp_path / "absent.gct.gz")
