"""``hrc data prepare``: the data stage switches between synthetic and GTEx."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from hrc.cli import cli
from hrc.data.dataset import load_prepared
from hrc.data.synth import generate_cohort, write_cohort
from hrc.errors import UsageError
from hrc.pipeline import load_params, prepare_data

REPO = Path(__file__).resolve().parents[1]
GCT = "GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_tpm.gct.gz"
SUBJECTS = "GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt"
ATTRIBUTES = "GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt"


def _write_params(tmp_path, data):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"data": data}))
    return path


def _prepare(params_path, out_dir):
    return CliRunner().invoke(
        cli,
        ["data", "prepare", "--params", str(params_path), "--out", str(out_dir)]
        + ["--no-progress"],
    )


def test_synthetic_source_writes_the_cohort_of_its_seed(tmp_path):
    section = {"source": "synthetic", "synthetic": {"samples": 300, "genes": 30}}
    section["synthetic"]["seed"] = 1
    samples_path, expressions_path = prepare_data(
        section, tmp_path / "out", progress=False
    )

    prepared = load_prepared(samples_path, expressions_path)
    expected = generate_cohort(300, 30, 1)
    assert (prepared.n_samples, prepared.n_genes) == (300, 30)
    np.testing.assert_array_equal(prepared.expression, expected.expression)


def test_gtex_source_imports_files_relative_to_params(tmp_path):
    # GTEx-format files of a small synthetic cohort stand in for the real ones.
    write_cohort(tmp_path / "raw", 300, 30, seed=2, gtex_files=True, progress=False)
    gtex = {"expression": f"raw/{GCT}", "subjects": f"raw/{SUBJECTS}"}
    gtex.update(samples=f"raw/{ATTRIBUTES}", genes=10, custom_gene_path=None)
    params_path = _write_params(tmp_path, {"source": "gtex", "gtex": gtex})

    result = _prepare(params_path, tmp_path / "out")
    assert result.exit_code == 0, result.output
    prepared = load_prepared(
        tmp_path / "out" / "v8_samples.parquet",
        tmp_path / "out" / "v8_expressions.parquet",
    )
    assert (prepared.n_samples, prepared.n_genes) == (300, 10)


def test_unknown_source_is_a_usage_error(tmp_path):
    params_path = _write_params(tmp_path, {"source": "drive"})
    result = _prepare(params_path, tmp_path / "out")
    assert result.exit_code == 2
    assert result.output == (
        "Error: data.source: unknown value 'drive'; accepted: synthetic, gtex\n"
    )
    assert not (tmp_path / "out").exists()


def test_gtex_source_without_a_matrix_names_the_parameter(tmp_path):
    params_path = _write_params(tmp_path, {"source": "gtex", "gtex": {}})
    result = _prepare(params_path, tmp_path / "out")
    assert result.exit_code == 1
    assert result.output == (
        "Error: data.gtex.expression: no file given; set it in params.yaml or run "
        "`dvc exp run -S data.gtex.expression=PATH`\n"
    )


def test_gtex_source_with_a_missing_file_names_it(tmp_path):
    gtex = {"expression": "absent.gct.gz", "subjects": "absent.txt"}
    params_path = _write_params(tmp_path, {"source": "gtex", "gtex": gtex})
    result = _prepare(params_path, tmp_path / "out")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: data.gtex.expression: file not found: {tmp_path / 'absent.gct.gz'}\n"
    )


def test_missing_section_lists_the_sections_found(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  label: age\n")
    result = CliRunner().invoke(
        cli, ["data", "prepare", "--params", str(path), "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert result.output == (
        f"Error: --section: {path} has no section 'data'; sections found: train\n"
    )


@pytest.mark.parametrize("samples", [0, "many", True])
def test_synthetic_size_must_be_a_positive_integer(tmp_path, samples):
    section = {"source": "synthetic", "synthetic": {"samples": samples}}
    with pytest.raises(UsageError, match=r"^data\.synthetic\.samples: expected"):
        prepare_data(section, tmp_path / "out", progress=False)


def test_every_params_section_dvc_yaml_reads_exists():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    read = {name for stage in stages.values() for name in stage.get("params", [])}
    assert read >= {"data", "train", "centralized", "decentralized", "compare"}
    for section in sorted(read):
        assert load_params(REPO / "params.yaml", section), section
