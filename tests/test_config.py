"""Config loading as a user meets it in `dlrun check`: errors, overrides, includes, layering."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dlrun.config import load_config
from dlrun.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]

BASE = """\
name: t
task: multiclass
data:
  source: sklearn.digits
"""


def check_error(cli, *args: str) -> str:
    """Run `dlrun check ARGS`, assert the config-error contract, return stderr."""
    code, out, err = cli("check", *args)
    assert code == 2, (out, err)
    assert out == ""
    assert err.startswith("error: ")
    assert "Traceback" not in err
    return err


# --- one error class each, with the message the user reads -------------------------------


def test_unknown_key_names_path_file_line_and_suggestion(cli, write_config) -> None:
    path = write_config(BASE + "  validaton: {fraction: 0.2}\n")
    err = check_error(cli, path)
    assert err.startswith(
        f"error: unknown key 'data.validaton' ({path}, line 5). Did you mean 'data.validation'? "
        "Keys allowed in data: source, path, num_words,"
    )


def test_key_in_the_wrong_section_says_where_it_belongs(cli, write_config) -> None:
    path = write_config(BASE + "train:\n  epochs: 3\n  units: [8]\n")
    err = check_error(cli, path)
    assert err.startswith(
        f"error: unknown key 'train.units' ({path}, line 7). "
        "'units' belongs in 'model': did you mean 'model.units'?"
    )


def test_wrong_type_names_the_expected_type(cli, write_config) -> None:
    path = write_config(BASE + "train:\n  epochs: three\n")
    err = check_error(cli, path)
    assert err == (
        f"error: 'train.epochs' ({path}, line 6): input should be a valid integer, "
        "unable to parse string as an integer; got 'three'.\n"
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "model.dropout=high",
            "'model.dropout' (command-line override 'model.dropout=high'): "
            "should be a valid number or a valid list; got 'high'.",
        ),
        (
            "model.l1=[0.1,a]",
            "'model.l1.1' (command-line override 'model.l1=[0.1,a]'): input should be a valid "
            "number, unable to parse string as a number; got 'a'.",
        ),
        (
            "train.optimizer=adam",
            "'train.optimizer' (command-line override 'train.optimizer=adam'): should be a "
            "mapping of keys (name, learning_rate, momentum); got 'adam'. "
            "Did you mean 'train.optimizer.name=adam'?",
        ),
        (
            "model.units=[a,2]",  # brackets are printed as they are, not read as markup
            "'model.units.0' (command-line override 'model.units=[a,2]'): input should be a "
            "valid integer, unable to parse string as an integer; got 'a'.",
        ),
        (
            "data.path=[/tmp/x]",  # once crashed the console: '[/tmp/x]' read as a closing tag
            "'data.path' (command-line override 'data.path=[/tmp/x]'): "
            "input should be a valid string; got ['/tmp/x'].",
        ),
    ],
    ids=["union", "list-item", "section-as-value", "brackets", "closing-tag"],
)
def test_wrong_type_in_overrides(cli, write_config, override, message) -> None:
    err = check_error(cli, write_config(BASE), override)
    assert err == f"error: {message}\n"


def test_bad_override_syntax(cli, write_config) -> None:
    path = write_config(BASE)
    err = check_error(cli, path, "train.epochs")
    assert err == (
        "error: override 'train.epochs' is not of the form key.path=value.\n"
        "Example: dlrun train configs/imdb.yaml train.epochs=4 model.units=[32,32]\n"
    )
    err = check_error(cli, path, "model.units=[3")
    assert err.startswith(
        "error: override 'model.units=[3': the value is not valid YAML (at line 1"
    )


def test_unknown_key_in_an_override_names_the_override(cli, write_config) -> None:
    err = check_error(cli, write_config(BASE), "train.epoch=4")
    assert err.startswith(
        "error: unknown key 'train.epoch' (command-line override 'train.epoch=4'). "
        "Did you mean 'train.epochs'?"
    )


def test_unknown_section_created_by_an_override_names_the_override(cli, write_config) -> None:
    err = check_error(cli, write_config(BASE), "data.validaton.holdout=5")
    assert err.startswith(
        "error: unknown key 'data.validaton' (command-line override 'data.validaton.holdout=5')."
        " Did you mean 'data.validation'?"
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            ["task=binary", "model.output_activation=softmax"],
            "model.output_activation 'softmax' does not fit task 'binary': softmax over a single "
            "unit always outputs 1.0. Use 'sigmoid' (or 'auto').",
        ),
        (
            ["train.loss=binary_crossentropy"],
            "train.loss 'binary_crossentropy' does not fit task 'multiclass'. "
            "Use 'sparse_categorical_crossentropy' (or 'auto'); "
            "allowed: sparse_categorical_crossentropy, categorical_crossentropy.",
        ),
        (
            ["train.loss=categorical_crossentropy"],
            "train.loss 'categorical_crossentropy' does not fit data.labels 'sparse'. "
            "Use 'sparse_categorical_crossentropy', or set data.labels to 'one_hot'.",
        ),
    ],
    ids=["softmax-binary", "bce-multiclass", "cce-sparse"],
)
def test_contradictions_say_what_to_use(cli, write_config, settings, message) -> None:
    path = write_config(BASE)
    err = check_error(cli, path, *settings)
    assert err == f"error: invalid config ({path}): {message}\n"


def test_missing_file(cli, tmp_path: Path) -> None:
    err = check_error(cli, tmp_path / "nope.yaml")
    assert err == (
        f"error: config file not found: {tmp_path / 'nope.yaml'}\n"
        "Check the path, relative to this directory.\n"
    )


def test_yaml_syntax_error_gives_line_and_column(cli, write_config) -> None:
    path = write_config("name: t\ntask: binary\ndata: {source: sklearn.iris\nmodel: x\n")
    err = check_error(cli, path)
    assert err == (
        f"error: {path}: YAML syntax error at line 4, column 6: expected ',' or '}}', but got "
        "':'.\nCheck the indentation and the ':' after each key.\n"
    )


def test_missing_required_key(cli, write_config) -> None:
    path = write_config("name: t\ndata: {source: sklearn.iris}\n")
    err = check_error(cli, path)
    assert err == (
        f"error: missing key 'task' (in {path}): add it to the config "
        "(one of: binary, multiclass, multilabel, regression).\n"
    )


def test_several_problems_are_reported_together(cli, write_config) -> None:
    path = write_config(BASE + "  validaton: {fraction: 0.2}\ntrain:\n  epochs: three\n")
    err = check_error(cli, path)
    assert "unknown key 'data.validaton'" in err
    assert "'train.epochs'" in err


def test_debug_variable_shows_the_traceback(cli, write_config, monkeypatch) -> None:
    monkeypatch.setenv("DLRUN_DEBUG", "1")
    with pytest.raises(ConfigError, match="missing key 'task'"):
        cli("check", write_config("name: t\ndata: {source: sklearn.iris}\n"))


def test_python_tags_are_refused_not_executed(cli, write_config, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = write_config(
        f"name: !!python/object/apply:os.system ['touch {marker}']\n"
        "task: binary\ndata: {source: sklearn.breast_cancer}\n"
    )
    err = check_error(cli, path)
    assert err.startswith(
        f"error: {path}: at line 1, column 7: the tag '!!python/object/apply:os.system' "
        "is not allowed.\nConfigs are read with yaml.safe_load"
    )
    err = check_error(
        cli, write_config(BASE), f"name=!!python/object/apply:os.system ['touch {marker}']"
    )
    assert "the tag '!!python/object/apply:os.system' is not allowed" in err
    assert not marker.exists()


# --- overrides, includes, layering -------------------------------------------------------


def test_overrides_nested_lists_and_new_sections(write_config) -> None:
    path = write_config(BASE)
    config = load_config(
        path,
        [
            "train.epochs=4",
            "model.units=[32,32]",
            "train.optimizer.learning_rate=0.01",
            "train.early_stopping={patience: 5}",
            "data.validation.holdout=100",
            "data.validation.fraction=null",
        ],
    ).config
    assert config.train.epochs == 4
    assert config.model.units == [32, 32]
    assert config.train.optimizer.learning_rate == 0.01
    assert config.train.optimizer.name == "rmsprop"  # the section's other keys keep defaults
    assert config.train.early_stopping is not None
    assert config.train.early_stopping.patience == 5
    assert config.data.validation.holdout == 100


def test_override_creates_a_missing_section(write_config) -> None:
    path = write_config(BASE)
    assert "model" not in yaml.safe_load(path.read_text())
    config = load_config(path, ["model.dropout=0.5"]).config
    assert config.model.dropout == 0.5
    assert config.model.units == [64, 64]


def test_include_is_relative_to_the_including_file_and_the_includer_wins(
    write_config, tmp_path: Path
) -> None:
    write_config(BASE + "train:\n  epochs: 7\n  batch_size: 16\n", "shared/base.yaml")
    child = write_config(
        "include: ../shared/base.yaml\nname: child\ntrain:\n  epochs: 2\n", "exp/child.yaml"
    )
    config = load_config(child).config
    assert config.name == "child"
    assert config.train.epochs == 2  # the including file wins
    assert config.train.batch_size == 16  # merged, not replaced, from the include
    assert config.data.source == "sklearn.digits"


def test_error_in_an_included_file_names_that_file(cli, write_config) -> None:
    base = write_config(BASE + "train:\n  epoch: 7\n", "base.yaml")
    child = write_config("include: base.yaml\nname: child\n", "child.yaml")
    err = check_error(cli, child)
    assert err.startswith(f"error: unknown key 'train.epoch' ({base}, line 6).")


def test_include_cycle_is_an_error(cli, write_config) -> None:
    a = write_config("include: b.yaml\n" + BASE, "a.yaml")
    b = write_config("include: a.yaml\n", "b.yaml")
    err = check_error(cli, a)
    assert err == f"error: include cycle: {a} -> {b} -> {a}\n"


def test_repeated_config_files_layer_in_order(cli, write_config) -> None:
    base = write_config(BASE + "train:\n  epochs: 7\n", "base.yaml")
    first = write_config("train:\n  epochs: 3\n  batch_size: 8\n", "first.yaml")
    second = write_config("train:\n  epochs: 5\n", "second.yaml")
    code, out, err = cli("check", base, "-c", first, "-c", second, "model.units=[4]")
    assert code == 0, err
    resolved = yaml.safe_load(out)
    assert resolved["train"]["epochs"] == 5
    assert resolved["train"]["batch_size"] == 8
    assert resolved["model"]["units"] == [4]
    assert f"ok: {base} is valid" in " ".join(err.split())


def test_check_prints_a_config_that_loads_back_the_same(cli, write_config, tmp_path) -> None:
    long_path = tmp_path / ("a-directory-name-long-enough-to-pass-eighty-columns" * 2) / "x.npz"
    path = write_config(BASE + "  validation: {holdout: 100}\ntrain:\n  early_stopping: true\n")
    code, out, err = cli("check", path, "model.units=[32,32]", f"data.scale={1 / 255}")
    assert code == 0, err
    original = load_config(path, ["model.units=[32,32]", f"data.scale={1 / 255}"]).config
    again = load_config(write_config(out, "resolved.yaml")).config
    assert again == original
    # long values stay on one line: the printed YAML must never be folded by the console
    code, out, err = cli("check", path, f"data.path={long_path}")
    assert code == 0, err
    assert yaml.safe_load(out)["data"]["path"] == str(long_path)


def test_schema_is_valid_json_with_the_sections(cli) -> None:
    code, out, err = cli("schema")
    assert code == 0, err
    schema = json.loads(out)
    assert {"name", "task", "data", "model", "train"} <= set(schema["properties"])


def test_check_does_not_import_tensorflow() -> None:
    code = (
        "import sys; from dlrun.cli import run; "
        "assert run(['check', 'configs/digits.yaml']) == 0; "
        "assert run(['--help']) == 0; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'; "
        "assert 'keras' not in sys.modules, 'keras was imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "name: digits" in result.stdout


def test_training_keys_keras_would_reject_late_are_caught_by_check(cli) -> None:
    code, _, err = cli("check", "configs/imdb.yaml", "train.early_stopping.monitor=val_acc")
    assert code == 2
    assert "train.early_stopping.monitor 'val_acc' is not logged by this config." in err
    assert "Did you mean 'val_accuracy'?" in err
    code, _, err = cli("check", "configs/imdb.yaml", "train.optimizer.name=rmsprob")
    assert code == 2 and "unknown train.optimizer.name 'rmsprob'. Did you mean 'rmsprop'?" in err
    code, _, err = cli(
        "check", "configs/imdb.yaml", "train.optimizer.name=adam", "train.optimizer.momentum=0.9"
    )
    assert code == 2 and "momentum applies to rmsprop and sgd, not 'adam'" in err


def test_committed_schema_file_matches_dlrun_schema(cli) -> None:
    # configs/*.yaml point yaml-language-server at this file; it must not drift.
    code, out, _ = cli("schema")
    assert code == 0
    committed = (Path(__file__).resolve().parents[1] / "dlrun.schema.json").read_text()
    assert json.loads(out) == json.loads(committed), "regenerate: dlrun schema > dlrun.schema.json"
