"""Config loading as a user meets it in `dlrun check`: errors, overrides, includes, layering."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import check_error

from dlrun.errors import ConfigError
from dlrun.spec import load_config

ROOT = Path(__file__).resolve().parents[1]

BASE = """\
name: t
task: multiclass
data:
  source: sklearn.digits
"""


# --- one error class each, with the message the user reads -------------------------------


def test_unknown_key_names_path_file_line_and_suggestion(cli, write_config) -> None:
    path = write_config(BASE + "  validaton: {fraction: 0.2}\n")
    err = check_error(cli, path)
    assert err.startswith(
        f"error: unknown key 'data.validaton' ({path}, line 5). Did you mean 'data.validation'? "
        "Keys allowed in data (sklearn.digits): source, labels, limit, validation, target_scale, "
        "cache, scale, "
        "normalize, test_fraction."
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
            "mapping of keys (name, learning_rate, momentum, weight_decay, clipnorm, schedule); "
            "got 'adam'. "
            "Did you mean 'train.optimizer.name=adam'?",
        ),
        (
            "model.units=[a,2]",  # brackets are printed as they are, not read as markup
            "'model.units.0' (command-line override 'model.units=[a,2]'): input should be a "
            "valid integer, unable to parse string as an integer; got 'a'.",
        ),
        (
            "model.activation=[/tmp/x]",  # once crashed the console: read as a closing tag
            "'model.activation' (command-line override 'model.activation=[/tmp/x]'): "
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
        "(one of: binary, multiclass, multilabel, regression, autoencoder, gan, "
        "language_model).\n"
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
    code, out, err = cli("check", path, f"model.activation={long_path}")
    assert code == 0, err
    assert yaml.safe_load(out)["model"]["activation"] == str(long_path)


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


# --- per-kind keys: the schema follows model.kind and data.source ------------------------


def test_check_prints_only_the_keys_of_the_kind_and_source(cli) -> None:
    code, out, err = cli("check", "configs/mnist.yaml")
    assert code == 0, err
    resolved = yaml.safe_load(out)
    assert not {"filters", "kernel_size", "pool_size", "params"} & set(resolved["model"])
    assert not {"target", "delimiter", "num_words", "test_fraction"} & set(resolved["data"])
    code, out, err = cli("check", "configs/mnist_convnet.yaml")
    assert code == 0, err
    assert {"filters", "kernel_size", "pool_size"} <= set(yaml.safe_load(out)["model"])


def test_a_key_of_another_kind_says_whose_it_is(cli, write_config) -> None:
    path = write_config(BASE + "model:\n  kind: mlp\n  filters: [8]\n")
    err = check_error(cli, path)
    assert err.startswith(
        f"error: unknown key 'model.filters' ({path}, line 7). 'filters' is a convnet, "
        "conv1d, autoencoder and vae key; this model is mlp. Keys allowed in model (mlp): kind, "
        "output_activation, units,"
    )
    err = check_error(cli, "configs/mnist.yaml", "model.kernel_size=5")
    assert "'kernel_size' is a convnet and conv1d key; this model is mlp." in err


@pytest.mark.parametrize("key", ["normalize: false", "scale: 0.5", "num_words: 100"])
def test_a_csv_source_refuses_keys_that_would_do_nothing(cli, write_config, key) -> None:
    table = write_config("a,b,label\n1,2,0\n3,4,1\n", "table.csv")
    path = write_config(
        f"name: t\ntask: binary\ndata:\n  source: csv\n  path: {table}\n  target: label\n  {key}\n"
    )
    err = check_error(cli, path)
    name = key.split(":")[0]
    assert err.startswith(f"error: unknown key 'data.{name}' ({path}, line 7).")
    assert "this data is csv" in err


def test_unknown_source_and_kind_get_a_line_and_a_suggestion(cli, write_config) -> None:
    path = write_config("name: t\ntask: multiclass\ndata:\n  source: sklearn.digitz\n")
    err = check_error(cli, path)
    assert err.startswith(
        f"error: unknown data.source 'sklearn.digitz' ({path}, line 4). "
        "Did you mean 'sklearn.digits'? Available: keras.imdb,"
    )
    err = check_error(cli, write_config(BASE + "model: {kind: convnett}\n"))
    assert "unknown model.kind 'convnett' (" in err and "line 5). Did you mean 'convnet'?" in err
    # every registered kind is listed, the python: form last
    assert "Available: mlp, convnet, " in err and ", python:path/file.py:function." in err


def test_an_error_an_override_introduced_is_blamed_on_the_override(cli, write_config) -> None:
    err = check_error(cli, write_config(BASE), "data.source=sklearn.digitz")
    assert err.startswith(
        "error: unknown data.source 'sklearn.digitz' "
        "(command-line override 'data.source=sklearn.digitz'). Did you mean 'sklearn.digits'?"
    )


def test_a_misspelt_task_gets_a_suggestion(cli, write_config) -> None:
    err = check_error(cli, write_config(BASE.replace("multiclass", "binray")))
    assert err.endswith("got 'binray'. Did you mean 'binary'?\n")


# --- check validates what it can without TensorFlow --------------------------------------


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model.dropout=1.5", "'model.dropout'"),
        ("model.dropout=[0.5,1.0]", "'model.dropout.1'"),
        ("model.l2=-0.1", "'model.l2'"),
        ("model.units=[16,0]", "'model.units.1'"),
        ("train.optimizer.learning_rate=0", "'train.optimizer.learning_rate'"),
    ],
)
def test_numeric_ranges_are_checked(cli, override, key) -> None:
    err = check_error(cli, "configs/imdb.yaml", override)
    assert err.startswith(f"error: {key} (command-line override '{override}'):")


def test_a_missing_data_path_is_rejected_naming_the_key(cli, tmp_path) -> None:
    err = check_error(cli, "configs/imdb.yaml", "data.path=/nonexistent/imdb.npz")
    assert "data.path /nonexistent/imdb.npz: not found" in err
    wrong = tmp_path / "imdb.npz"
    wrong.write_text("not a zip")
    err = check_error(cli, "configs/imdb.yaml", f"data.path={wrong}")
    assert f"data.path {wrong} is not an .npz file" in err
    mnist = tmp_path / "mnist.npz"
    np.savez(mnist, x_train=np.zeros((2, 2, 2)), y_train=np.zeros(2))
    err = check_error(cli, "configs/imdb.yaml", f"data.path={mnist}")
    assert f"data.path {mnist} lacks the arrays x_test, y_test; it needs" in err


def test_a_csv_path_and_its_columns_are_checked(cli, write_config) -> None:
    table = write_config("a,b,label\n1,2,0\n3,4,1\n", "table.csv")
    base = f"name: t\ntask: binary\ndata: {{source: csv, path: {table}, target: label}}\n"
    path = write_config(base)
    code, _, err = cli("check", path)
    assert code == 0, err
    err = check_error(cli, path, "data.target=price")
    assert f"data.path {table} has no column 'price'" in err and "Columns: a, b, label." in err
    err = check_error(cli, path, "data.drop=[c]")
    assert "has no column 'c'" in err


@pytest.mark.parametrize(
    ("config", "override", "given"),
    [
        ("configs/imdb.yaml", "model.kind=convnet", "multi_hot"),
        ("configs/boston.yaml", "model.kind=convnet", "features"),
        ("configs/imdb.yaml", "data.vectorize=sequence", "sequence"),
    ],
)
def test_a_model_kind_given_an_input_it_cannot_take_is_rejected(
    cli, config, override, given
) -> None:
    extra = ["data.maxlen=200"] if "sequence" in override else []
    err = check_error(cli, config, override, *extra)
    kind = override.split("=")[1] if "kind" in override else "mlp"
    assert f"model.kind '{kind}' does not accept {given} input, which data.source" in err


def test_a_convnet_on_a_csv_is_rejected(cli, write_config) -> None:
    table = write_config("a,b,label\n1,2,0\n3,4,1\n", "table.csv")
    path = write_config(
        f"name: t\ntask: binary\ndata: {{source: csv, path: {table}, target: label}}\n"
        "model: {kind: convnet}\n"
    )
    err = check_error(cli, path)
    assert "model.kind 'convnet' does not accept table input" in err
    assert "Use model.kind: mlp." in err


def test_sequence_vectorizing_needs_maxlen(cli) -> None:
    err = check_error(cli, "configs/imdb.yaml", "data.vectorize=sequence", "model.kind=x")
    assert "unknown model.kind 'x'" in err
    err = check_error(
        cli, "configs/imdb.yaml", "data.vectorize=sequence", "model={kind: 'python:m.py:f'}"
    )
    assert "data.vectorize 'sequence' needs data.maxlen" in err


BUILDER = """\
import pathlib
pathlib.Path({marker!r}).touch()  # proves the file ran


def build(config, input_spec, outputs, head):
    raise SystemExit(3)
"""


def test_a_python_builder_is_found_by_check_without_running_it(cli, write_config, tmp_path):
    marker = tmp_path / "ran"
    builder = write_config(BUILDER.format(marker=str(marker)), "builder.py")
    ok = write_config(BASE + f"model: {{kind: 'python:{builder}:build'}}\n")
    code, _, err = cli("check", ok)
    assert code == 0, err
    err = check_error(cli, ok, f"model.kind=python:{builder}:make")
    assert f"model.kind: {builder} has no function 'make'. Functions there: build." in err
    err = check_error(cli, ok, f"model.kind=python:{tmp_path}/absent.py:build")
    assert f"model.kind: builder file not found: {tmp_path}/absent.py" in err
    broken = write_config("def build(:\n", "broken.py")
    err = check_error(cli, ok, f"model.kind=python:{broken}:build")
    assert f"model.kind: {broken} is not valid Python" in err
    err = check_error(cli, ok, f"model.kind=python:{builder}")
    assert "must look like python:path/file.py:function" in err
    assert not marker.exists()


@pytest.mark.parametrize(
    ("config", "override", "message"),
    [
        (
            "configs/mnist.yaml",
            "task=binary",
            "task 'binary' needs labels 0 and 1, but data.source 'keras.mnist' has 10 classes. "
            "Use task: multiclass.",
        ),
        (
            "configs/reuters.yaml",
            "task=regression",
            None,  # a regression on class labels is odd, but it trains
        ),
        (
            "configs/boston.yaml",
            "task=multiclass",
            "task 'multiclass' needs class labels, but data.source 'keras.boston_housing' has "
            "continuous labels. Use task: regression.",
        ),
        (
            "configs/digits.yaml",
            "task=multilabel",
            "task 'multilabel' needs one 0/1 column per label, but data.source 'sklearn.digits' "
            "has one label per sample.",
        ),
    ],
)
def test_the_task_is_checked_against_known_labels(cli, config, override, message) -> None:
    overrides = [override, "train.early_stopping=false", "workflow=null", "sweep=null"]
    if message is None:
        code, _, err = cli("check", config, *overrides)
        assert code == 0, err
        return
    err = check_error(cli, config, *overrides)
    assert message in err


def test_a_stage_builder_is_checked_too(cli, write_config) -> None:
    path = write_config(
        BASE
        + "workflow:\n  stages:\n    - {name: mine, model: {kind: 'python:no/such.py:build'}}\n"
    )
    err = check_error(cli, path)
    assert "workflow stage 'mine': model.kind: builder file not found: no/such.py" in err


def test_the_task_is_checked_against_a_files_labels(cli, write_config, tmp_path) -> None:
    table = write_config("a,label\n1,x\n2,y\n3,z\n", "table.csv")
    err = check_error(
        cli,
        write_config(
            f"name: t\ntask: binary\ndata: {{source: csv, path: {table}, target: label}}\n"
        ),
    )
    assert (
        f"task 'binary' needs labels 0 and 1, but column 'label' of {table} has 3 classes." in err
    )
    arrays = tmp_path / "d.npz"
    zeros = np.zeros((10, 3))
    np.savez(arrays, x_train=zeros, y_train=np.arange(10), x_test=zeros, y_test=np.arange(10))
    err = check_error(
        cli, write_config(f"name: t\ntask: binary\ndata: {{source: npz, path: {arrays}}}\n")
    )
    assert f"y_train of {arrays} has 10 classes" in err


def test_train_refuses_a_wrong_task_before_any_run_directory_exists(cli, runs_dir) -> None:
    code, _, err = cli("train", "configs/mnist.yaml", "task=binary")
    assert code == 2 and "task 'binary' needs labels 0 and 1" in err
    assert not runs_dir.exists()


def test_a_sweep_path_follows_the_configs_kind(cli) -> None:
    err = check_error(cli, "configs/imdb.yaml", "sweep.space={model.filters: {choice: [[8]]}}")
    assert "sweep.space 'model.filters': unknown key 'filters' in model." in err
    assert "'filters' is a convnet, conv1d, autoencoder and vae key; this model is mlp." in err
    code, _, err = cli(
        "check", "configs/mnist_convnet.yaml", "sweep={space: {model.filters: {choice: [[8]]}}}"
    )
    assert code == 0, err


# --- YAML: safe, parsed once, no silent loss ---------------------------------------------


BOMB = (
    "name: bomb\ntask: binary\ndata: {source: sklearn.breast_cancer}\n"
    + "".join(
        f"{name}: &{name} [{', '.join([f'*{prev}'] * 9 if prev else ['lol'] * 9)}]\n"
        for prev, name in zip([None, *"abcdefgh"], "abcdefghi", strict=True)
    )
    + "model: {units: *i}\n"
)


def test_a_yaml_alias_bomb_is_refused_quickly(write_config) -> None:
    path = write_config(BOMB)
    code = (
        "import resource, sys; "
        "resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3)); "
        "from dlrun.cli import run; sys.exit(run(['check', sys.argv[1]]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "YAML aliases (*name) expand to more than 10,000 values" in result.stderr
    assert "Traceback" not in result.stderr


def test_anchors_and_merge_keys_within_the_bound_still_work(write_config) -> None:
    path = write_config(
        "name: t\ntask: multiclass\ndata: {source: sklearn.digits}\n"
        "model: {units: &u [8, 8]}\n"
        "train: &t {batch_size: 8, epochs: 2}\n"
        "workflow:\n  stages:\n    - {name: a, train: {<<: *t, epochs: 3}, model: {units: *u}}\n"
    )
    config = load_config(path).config
    assert config.model.units == [8, 8]
    assert config.workflow.stages[0].train == {"batch_size": 8, "epochs": 3}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            BASE + "train:\n  batch_size: 7\nmodel:\n  units: [8]\ntrain:\n  epochs: 2\n",
            "duplicate key 'train' ({path}, lines 5 and 9): YAML would keep only the last one.",
        ),
        (
            BASE + "train:\n  batch_size: 7\n  epochs: 3\n  batch_size: 9\n",
            "duplicate key 'train.batch_size' ({path}, lines 6 and 8)",
        ),
    ],
    ids=["section", "leaf"],
)
def test_a_key_given_twice_is_an_error_with_both_lines(cli, write_config, text, message) -> None:
    path = write_config(text)
    err = check_error(cli, path)
    assert err.startswith("error: " + message.format(path=path))


def test_a_config_is_parsed_once_with_the_c_parser(cli, write_config, monkeypatch) -> None:
    # The pure-Python loader cost 110 s on an 11 MB config, parsing it twice.
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed with the pure-Python loader")

    monkeypatch.setattr(yaml, "compose", refuse)
    monkeypatch.setattr(yaml, "safe_load", refuse)
    code, _, err = cli("check", write_config(BASE + "train: {epochs: 3}\n"))
    assert code == 0, err


def test_a_large_config_is_parsed_once_by_the_c_parser(cli, write_config, monkeypatch) -> None:
    """A 2.6 MB config took 14 s when each check parsed it again in pure Python; counted
    here, not timed: one libyaml pass over the file, whatever the machine's load."""
    from dlrun.config import loader

    builder = write_config("def build(**kwargs):\n    pass\n", "builder.py")
    table = [[i, i * 0.5, f"x{i}"] for i in range(60_000)]  # a 2.6 MB config
    config = {
        "name": "big",
        "task": "binary",
        "data": {"source": "sklearn.breast_cancer"},
        "model": {"kind": f"python:{builder}:build", "params": {"table": table}},
    }
    path = write_config(config)
    parses = []
    c_parser = loader._PARSER

    def counted(text: str):
        parses.append(len(text))
        return c_parser(text)

    monkeypatch.setattr(loader, "_PARSER", counted)
    monkeypatch.setattr(loader, "_python_parser_error", lambda text: pytest.fail("pure Python"))
    code, out, err = cli("check", path)
    assert code == 0, err
    assert parses == [path.stat().st_size]
