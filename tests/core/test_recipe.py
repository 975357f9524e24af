"""Recipes: layering, presets, typed overrides and errors that name the key."""

from __future__ import annotations

import pytest
import yaml
from jepa_platform.config import command_overrides, deep_merge, parse_overrides, read_yaml, split_overrides
from jepa_platform.domain import load_domain
from jepa_platform.errors import JepaError
from jepa_platform.model import PRESETS
from jepa_platform.pretrain.config import resolve_recipe

from tests.helpers import RECIPES


def test_overrides_are_typed_and_nested():
    pairs = split_overrides(["--model.depth", "4", "--optim.lr=5e-4", "--masking.keep_ratio", "[0.2, 0.3]"])
    tree = parse_overrides(pairs)
    assert tree == {"model": {"depth": 4}, "optim": {"lr": 5e-4}, "masking": {"keep_ratio": [0.2, 0.3]}}


def test_override_without_value_or_dot_is_an_error():
    with pytest.raises(JepaError, match="needs a value"):
        split_overrides(["--model.depth"])
    with pytest.raises(JepaError, match="unrecognized argument '--depth'"):
        split_overrides(["--depth", "3"])


def test_demo_settings_apply_only_without_a_data_path():
    demo = resolve_recipe("ecg")
    real = resolve_recipe("ecg", overrides={"data": {"path": "/some/where"}})
    assert demo.data.sampling_rate == 100 and demo.model.depth == 2 and demo.optim.lr == 3e-3
    assert real.data.sampling_rate == 500 and real.model.depth == 8  # ECG-JEPA ViT-S
    assert real.objective.ema_momentum == (0.998, 0.9995) and real.objective.loss == "l1"


def test_layers_override_in_order(tmp_path):
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text("domain: ecg\nmodel:\n  depth: 3\noptim:\n  lr: 0.002\n")
    recipe = resolve_recipe(None, recipe_file, overrides={"optim": {"lr": 0.003}})
    assert recipe.domain == "ecg" and recipe.model.depth == 3 and recipe.optim.lr == 0.003
    assert recipe.model.embed_dim == PRESETS["vit_tiny"]["embed_dim"]  # from the demo layer


def test_preset_fills_sizes_and_explicit_keys_win():
    recipe = resolve_recipe("ecg", overrides={"model": {"preset": "vit_base", "predictor_dim": 192}})
    assert recipe.model.embed_dim == 768 and recipe.model.num_heads == 12
    assert recipe.model.predictor_dim == 192


@pytest.mark.parametrize("name, preset", [("vit-base", "vit_base"), ("vit-large", "vit_large")])
def test_ecg_recipes_of_larger_models_take_the_preset_sizes_with_checkpointing(name, preset):
    recipe = resolve_recipe(None, RECIPES / "ecg" / f"pretrain-ptbxl-{name}.yaml", overrides={"data": {"path": "/d"}})
    sizes = {key: getattr(recipe.model, key) for key in PRESETS[preset]}
    assert recipe.model.preset == preset and sizes == PRESETS[preset]  # the ECG default depth 8 does not stay
    assert recipe.model.activation_checkpointing and recipe.trainer.num_workers == "auto"


def test_loader_workers_default_to_auto_and_an_explicit_count_stays():
    assert resolve_recipe("ecg", overrides={"data": {"path": "/d"}}).trainer.num_workers == "auto"
    assert resolve_recipe("ecg", overrides={"trainer": {"num_workers": 3}}).trainer.num_workers == 3
    with pytest.raises(JepaError, match="num_workers"):
        resolve_recipe("ecg", overrides={"trainer": {"num_workers": "many"}})


def test_unknown_key_names_the_key_and_suggests():
    with pytest.raises(JepaError, match=r"unknown recipe key 'model.dept' \(did you mean 'model.depth'\?\)"):
        resolve_recipe("ecg", overrides={"model": {"dept": 4}})
    with pytest.raises(JepaError, match=r"unknown recipe key 'data.sampling_rte'"):
        resolve_recipe("ecg", overrides={"data": {"sampling_rte": 4}})


def test_wrong_type_and_bad_values_name_the_key():
    with pytest.raises(JepaError, match=r"recipe key 'trainer.max_steps'.*'many'"):
        resolve_recipe("ecg", overrides={"trainer": {"max_steps": "many"}})
    with pytest.raises(JepaError, match=r"recipe key 'model'.*not divisible"):
        resolve_recipe("ecg", overrides={"model": {"embed_dim": 100, "num_heads": 3}})
    with pytest.raises(JepaError, match=r"recipe key 'data'.*patch_ms"):
        resolve_recipe("ecg", overrides={"data": {"patch_ms": 33}})


def test_domain_is_required_and_must_exist():
    with pytest.raises(JepaError, match="no domain given"):
        resolve_recipe(None)
    with pytest.raises(JepaError, match="unknown domain 'eeg2'; available domains: .*ecg"):
        resolve_recipe("eeg2")


def test_recipe_file_errors_name_the_file(tmp_path):
    with pytest.raises(JepaError, match="does not exist"):
        read_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(JepaError, match="bad.yaml is not valid YAML"):
        read_yaml(bad)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(JepaError, match="must hold a mapping"):
        read_yaml(listing)


def test_yaml_is_loaded_safely(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("domain: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(JepaError, match="not valid YAML"):
        read_yaml(evil)


def test_printed_recipe_round_trips(tmp_path):
    recipe = resolve_recipe("ecg", overrides={"seed": 5, "model": {"depth": 2}})
    saved = tmp_path / "config.yaml"
    saved.write_text(recipe.to_yaml())
    again = resolve_recipe(None, base=yaml.safe_load(saved.read_text()))
    assert again == recipe


def test_deep_merge_keeps_untouched_keys():
    assert deep_merge({"a": {"b": 1, "c": 2}, "d": 3}, {"a": {"b": 5}}) == {"a": {"b": 5, "c": 2}, "d": 3}


def test_masking_strategy_is_chosen_by_name_and_keeps_overrides():
    spans = resolve_recipe("ecg", overrides=parse_overrides(split_overrides(["--masking.num_spans", "3"])))
    assert spans.masking.strategy == "spans" and spans.masking.num_spans == 3
    assert spans.masking.min_block == 5  # the demo layer below the override still applies
    blocks = resolve_recipe("ecg", overrides={"masking": {"strategy": "multiblock", "num_blocks": 2}})
    assert blocks.masking.strategy == "multiblock" and blocks.masking.num_blocks == 2
    assert blocks.masking.target_scale == (0.15, 0.2)  # the strategy's own defaults, not the domain's span keys


def test_masking_strategy_in_a_recipe_file_switches_too(tmp_path):
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text("domain: ecg\nmasking:\n  strategy: spans\n  num_spans: 2\n")
    recipe = resolve_recipe(None, recipe_file, overrides={"masking": {"strategy": "future_chunks"}})
    assert recipe.masking.strategy == "future_chunks" and recipe.masking.num_chunks == 2


def test_masking_errors_name_the_key_and_the_strategy():
    with pytest.raises(JepaError, match=r"recipe key 'masking.num_spans' does not apply to 'multiblock'"):
        resolve_recipe("ecg", overrides={"masking": {"strategy": "multiblock", "num_spans": 3}})
    with pytest.raises(JepaError, match=r"recipe key 'masking.strategy': must be one of spans, .*feature_subsets"):
        resolve_recipe("ecg", overrides={"masking": {"strategy": "blocks"}})
    with pytest.raises(JepaError, match=r"recipe key 'masking.num_blocks'.*'many'"):
        resolve_recipe("ecg", overrides={"masking": {"strategy": "multiblock", "num_blocks": "many"}})
    with pytest.raises(JepaError, match=r"recipe key 'masking.target_scale': must satisfy 0 < low"):
        resolve_recipe("ecg", overrides={"masking": {"strategy": "multiblock", "target_scale": [0.3, 0.2]}})
    with pytest.raises(JepaError, match=r"'masking.generators.num_blok' \(did you mean '.*generators.num_blocks'"):
        resolve_recipe("ecg", overrides={"masking": {"strategy": "tubes", "generators": [{"num_blok": 2}]}})


def test_printed_recipe_with_another_strategy_round_trips(tmp_path):
    generators = [{"spatial_scale": [0.15, 0.15], "num_blocks": 8}, {"spatial_scale": [0.7, 0.7], "num_blocks": 2}]
    recipe = resolve_recipe("ecg", overrides={"masking": {"strategy": "tubes", "generators": generators}})
    assert "strategy: tubes" in recipe.to_yaml()
    again = resolve_recipe(None, base=yaml.safe_load(recipe.to_yaml()))
    assert again == recipe and len(again.masking.generators) == 2


def test_data_paths_one_as_a_string_several_as_a_list_for_domains_that_read_several(tmp_path):
    assert command_overrides([], data=["a.tif"]) == {"data": {"path": "a.tif"}}
    assert command_overrides([], data=["a.tif", "b/"]) == {"data": {"path": ["a.tif", "b/"]}}
    recipe = resolve_recipe("ecg", overrides={"data": {"path": [str(tmp_path), str(tmp_path)]}})
    with pytest.raises(JepaError, match="domain 'ecg' reads one data path"):
        load_domain("ecg").data_root(recipe.data, tmp_path)
