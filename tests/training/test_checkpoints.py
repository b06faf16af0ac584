"""Checkpoints: own dtype on disk, atomic writes, latest/resume helpers, retention, RNG round trip."""

import json
import random

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch.optim import AdamW
from torch.optim.lr_scheduler import LambdaLR
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.training.recorder import Recorder
from tests.training.test_grpo_trainer import (  # noqa: F401  (contains_answer_reward: autouse fixture)
    EXAMPLES,
    contains_answer_reward,
    make_config,
    make_model,
)
from training.algorithms.grpo.trainer import GRPOTrainer
from training.checkpoints import (
    COMPLETE,
    CheckpointBudgetError,
    CheckpointError,
    CheckpointWriteError,
    checkpoint_dtype,
    folder_size,
    has_resume_state,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_model_weights,
    prune_checkpoints,
    read_trainer_state,
    restore_rng_states,
    save_checkpoint,
)


def _optimizer(model):
    optimizer = AdamW(model.parameters(), lr=1e-3)
    return optimizer, LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 4))


def _save(directory, step, model, tokenizer, metrics=None):
    optimizer, scheduler = _optimizer(model)
    state = {"metrics": metrics or {}}
    return save_checkpoint(directory, step, model, tokenizer, optimizer, scheduler, state)


def _safetensors_dtypes(path) -> set[str]:
    dtypes = set()
    for file in path.glob("*.safetensors"):
        with safe_open(file, "pt") as handle:
            dtypes |= {handle.get_slice(name).get_dtype() for name in handle.keys()}  # noqa: SIM118
    return dtypes


@pytest.mark.parametrize("master_weights", [True, False])
def test_a_bf16_model_is_saved_as_bf16_and_says_so(tokenizer, tmp_path, master_weights):
    recorder = Recorder()
    config = make_config(
        repeat_to_batch=True, steps=1, output_dir=str(tmp_path), fp32_master_weights=master_weights
    )
    model = make_model(dtype=torch.bfloat16)
    trainer = GRPOTrainer(model, tokenizer, EXAMPLES[:1], config, callbacks=recorder)
    trainer.train()

    ((step, path, dtype),) = recorder.checkpoints
    assert (step, dtype) == (1, "bfloat16") and trainer.model_dtype == torch.bfloat16
    assert _safetensors_dtypes(tmp_path / "step-00000001") == {"BF16"}
    assert json.loads((tmp_path / "step-00000001" / "config.json").read_text())["dtype"] == "bfloat16"
    assert checkpoint_dtype(path) == "bfloat16"
    assert AutoModelForCausalLM.from_pretrained(path).dtype == torch.bfloat16
    # The float32 master weights (trained) sit in a subfolder that model loaders do not read.
    master = tmp_path / "step-00000001" / "master"
    assert master.is_dir() == master_weights
    if master_weights:
        assert trainer.model.dtype == torch.float32 and _safetensors_dtypes(master) == {"F32"}


def test_an_fp32_model_stays_fp32(tokenizer, tmp_path):
    path = _save(tmp_path, 1, make_model(), tokenizer)
    assert _safetensors_dtypes(path) == {"F32"} and checkpoint_dtype(path) == "float32"


def test_a_checkpoint_is_a_model_folder_and_loads_back(tokenizer, tmp_path):
    model = make_model(seed=1, dtype=torch.bfloat16)
    path = _save(tmp_path, 7, model, tokenizer)
    loaded = AutoModelForCausalLM.from_pretrained(path)
    assert loaded.dtype == torch.bfloat16 and len(AutoTokenizer.from_pretrained(path)) == len(tokenizer)

    other = make_model(seed=2, dtype=torch.bfloat16)
    load_model_weights(other, path)  # lm_head is tied: absent from the file, still restored
    for (name, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_weights_of_another_architecture_are_refused(tokenizer, tmp_path):
    path = _save(tmp_path, 1, make_model(), tokenizer)
    config = make_model().config
    config.num_hidden_layers = 3
    with pytest.raises(CheckpointError, match=r"missing \['model.layers.2"):
        load_model_weights(AutoModelForCausalLM.from_config(config), path)


def test_optimizer_and_scheduler_state_round_trip(tokenizer, tmp_path):
    model = make_model()
    optimizer, scheduler = _optimizer(model)
    model(input_ids=torch.tensor([[3, 4, 5]])).logits.sum().backward()
    optimizer.step()
    scheduler.step()
    path = save_checkpoint(tmp_path, 1, model, tokenizer, optimizer, scheduler, {"sampler": {"epoch": 1}})

    fresh = make_model(seed=5)
    fresh_optimizer, fresh_scheduler = _optimizer(fresh)
    state = load_checkpoint(path, fresh, fresh_optimizer, fresh_scheduler)
    assert state == {"sampler": {"epoch": 1}, "step": 1}
    assert fresh_scheduler.state_dict() == scheduler.state_dict()
    for before, after in zip(optimizer.state.values(), fresh_optimizer.state.values(), strict=True):
        assert all(torch.equal(before[key], after[key]) for key in before)


def test_rng_states_round_trip(tokenizer, tmp_path):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    path = _save(tmp_path, 1, make_model(), tokenizer)
    draws = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(2), np.random.seed(2), torch.manual_seed(2)
    restore_rng_states(path)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == draws


def test_a_save_that_dies_midway_leaves_no_checkpoint(tokenizer, tmp_path, monkeypatch):
    model = make_model()
    first = _save(tmp_path, 1, model, tokenizer)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tokenizer, "save_pretrained", crash)
    with pytest.raises(CheckpointWriteError, match="step-00000002: disk full") as failure:
        _save(tmp_path, 2, model, tokenizer)
    assert isinstance(failure.value.__cause__, OSError) and failure.value.path == tmp_path / "step-00000002"
    assert latest_checkpoint(tmp_path) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000001"]


def test_a_killed_save_is_ignored_and_cleaned_up(tokenizer, tmp_path):
    model = make_model()
    first = _save(tmp_path, 1, model, tokenizer)
    (tmp_path / ".tmp-step-00000002").mkdir()  # what a SIGKILL during the write leaves
    (tmp_path / ".tmp-step-00000002" / "model.safetensors").write_bytes(b"half")
    unmarked = tmp_path / "step-00000003"  # not written by save_checkpoint: no COMPLETE marker
    unmarked.mkdir()
    assert latest_checkpoint(tmp_path) == first
    assert [info.step for info in list_checkpoints(tmp_path)] == [1]
    with pytest.raises(CheckpointError, match=COMPLETE):
        read_trainer_state(unmarked)

    _save(tmp_path, 4, model, tokenizer)
    assert not (tmp_path / ".tmp-step-00000002").exists()
    assert latest_checkpoint(tmp_path) == tmp_path / "step-00000004"


def test_saving_a_step_again_replaces_it(tokenizer, tmp_path):
    _save(tmp_path, 3, make_model(seed=1), tokenizer, {"reward_mean": 0.1})
    path = _save(tmp_path, 3, make_model(seed=2), tokenizer, {"reward_mean": 0.2})
    assert read_trainer_state(path)["metrics"] == {"reward_mean": 0.2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000003"]


def test_retention_keeps_the_last_k_and_the_best(tokenizer, tmp_path):
    model = make_model()
    for step, reward in zip([1, 2, 3, 4, 5], [0.1, 0.9, 0.3, 0.2, 0.4], strict=True):
        _save(tmp_path, step, model, tokenizer, {"reward_mean": reward})
    removed = prune_checkpoints(tmp_path, keep_last=2, best_metric="reward_mean")
    assert sorted(p.name for p in removed) == ["step-00000001", "step-00000003"]
    assert [info.step for info in list_checkpoints(tmp_path)] == [2, 4, 5]

    prune_checkpoints(tmp_path, keep_last=1, best_metric="reward_mean", mode="min")
    assert [info.step for info in list_checkpoints(tmp_path)] == [4, 5]
    prune_checkpoints(tmp_path, keep_last=1)
    assert [info.step for info in list_checkpoints(tmp_path)] == [5]


def test_latest_checkpoint_of_an_empty_or_missing_folder(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    assert latest_checkpoint(tmp_path / "absent") is None


def test_retention_keeps_what_an_evaluation_needs_and_counts_keep_last_among_the_rest(tokenizer, tmp_path):
    model = make_model()
    for step in [1, 2, 3, 4, 5]:
        _save(tmp_path, step, model, tokenizer)
    prune_checkpoints(tmp_path, keep_last=1, protected={1, 2})
    assert [info.step for info in list_checkpoints(tmp_path)] == [1, 2, 5]
    prune_checkpoints(tmp_path, keep_last=1, protected={2})  # step 1's evaluation is in
    assert [info.step for info in list_checkpoints(tmp_path)] == [2, 5]


def test_only_the_newest_checkpoint_keeps_its_resume_state(tokenizer, tmp_path):
    model = make_model()
    for step in [1, 2, 3]:
        _save(tmp_path, step, model, tokenizer)
    sizes = {info.step: folder_size(info.path) for info in list_checkpoints(tmp_path)}
    prune_checkpoints(tmp_path, keep_last=3)
    kept = list_checkpoints(tmp_path)
    assert [has_resume_state(info.path) for info in kept] == [False, False, True]
    assert latest_checkpoint(tmp_path) == kept[-1].path
    assert folder_size(kept[0].path) < sizes[1] and folder_size(kept[-1].path) == sizes[3]
    assert not (kept[0].path / "optimizer.pt").exists() and not (kept[0].path / "rng_state.pt").exists()
    load_model_weights(make_model(seed=1), kept[0].path)  # still a model folder


def test_a_checkpoint_past_the_disk_budget_fails_before_it_is_written(tokenizer, tmp_path):
    config = make_config(output_dir=str(tmp_path), save_every=1, steps=2, disk_budget_gib=1e-6)
    trainer = GRPOTrainer(make_model(), tokenizer, EXAMPLES[:2], config)
    with pytest.raises(CheckpointBudgetError, match=r"train\.disk_budget_gib"):
        trainer.train()
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_dtype_other_than_the_models_saves_and_reports_step_0(tokenizer, tmp_path):
    """Paper App. B.6: the stored initial checkpoint (fp32 there) is evaluated like every later one."""
    recorder = Recorder()
    config = make_config(output_dir=str(tmp_path), save_every=2, steps=2, checkpoint_dtype="bfloat16")
    GRPOTrainer(make_model(), tokenizer, EXAMPLES[:2], config, callbacks=recorder).train()
    assert [(step, dtype) for step, _, dtype in recorder.checkpoints] == [(0, "bfloat16"), (2, "bfloat16")]
    step_0 = list_checkpoints(tmp_path)[0].path
    assert _safetensors_dtypes(step_0) == {"BF16"} and read_trainer_state(step_0)["step"] == 0
    recorder = Recorder()
    same = make_config(output_dir=str(tmp_path / "same"), save_every=2, steps=2)
    GRPOTrainer(make_model(), tokenizer, EXAMPLES[:2], same, callbacks=recorder).train()
    assert [step for step, _, _ in recorder.checkpoints] == [2]  # step 0 would be the base model again


def test_once_training_is_over_the_newest_is_kept_only_if_pinned_best_or_within_keep_last(
    tokenizer, tmp_path
):
    """keep_last 0 while training: the newest (for a resume) and the protected ones; once training has
    succeeded (keep_newest False): the protected ones alone, none with resume state."""
    model = make_model()
    for step in [1, 2, 3]:
        _save(tmp_path, step, model, tokenizer)
    prune_checkpoints(tmp_path, keep_last=0, protected={2})
    assert [info.step for info in list_checkpoints(tmp_path)] == [2, 3]
    assert has_resume_state(tmp_path / "step-00000003")
    prune_checkpoints(tmp_path, keep_last=0, protected={2}, keep_newest=False)
    kept = list_checkpoints(tmp_path)
    assert [info.step for info in kept] == [2] and not has_resume_state(kept[0].path)
    _save(tmp_path, 4, model, tokenizer)
    prune_checkpoints(tmp_path, keep_last=1, keep_newest=False)  # keep_last still counts the newest
    kept = list_checkpoints(tmp_path)
    assert [info.step for info in kept] == [4] and not has_resume_state(kept[0].path)
    with pytest.raises(ValueError, match="keep_last must be >= 0"):
        prune_checkpoints(tmp_path, keep_last=-1)
