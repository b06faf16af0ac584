"""The algorithm registry: every folder registered, entries torch-free, every spec field reaching its trainer
config by name, and GSPO (the algorithm added by touching only its folder) against a hand-computed case."""

import dataclasses
import math
import subprocess
import sys

import pytest
import torch

from rlab.spec import SpecV1
from tests.models import make_model
from tests.training.recorder import Recorder
from training.algorithms import algorithms, get_algorithm
from training.algorithms.configs import TrainerRuntime, config_from, unused_fields
from training.algorithms.grpo.build import grpo_config
from training.algorithms.grpo.config import GRPOConfig
from training.algorithms.gspo.config import GSPOConfig
from training.algorithms.gspo.loss import gspo_policy_loss
from training.algorithms.redistill.sampling import RedistillConfig
from training.algorithms.sft.build import sft_config
from training.algorithms.sft.trainer import SFTConfig
from training.algorithms.srft.config import SRFTConfig
from training.examples import TrainingExample
from training.loss_names import AGGREGATION_NAMES, KL_ESTIMATOR_NAMES
from training.losses import AGGREGATIONS, KL_ESTIMATORS, LossConfig, aggregate

# Block fields a worker reads itself (workers/inputs.py), not a trainer config.
READ_BY_THE_WORKER = ("demonstrations_field", "source_run", "source_step", "sample_effect_problems")
CONFIGS = {
    "grpo": (GRPOConfig,),
    "entropy_only": (GRPOConfig,),
    "gspo": (GRPOConfig, GSPOConfig),
    "srft": (GRPOConfig, SRFTConfig),
    "luffy": (GRPOConfig, SRFTConfig),
    "sft": (SFTConfig,),
    "redistill": (SFTConfig, RedistillConfig),
}


def _spec(algorithm: str, block: dict | None = None, **sections: dict) -> SpecV1:
    data = {
        "name": "t",
        "model": {"id": "./tiny"},
        "algorithm": {"name": algorithm, **({algorithm: block} if block is not None else {})},
        "data": {"dataset": "arith", "examples": [0]},
        "train": {"batch_size": 2, "mini_batch_size": 2, "steps": 2, **sections.pop("train", {})},
        **sections,
    }
    return SpecV1.model_validate(data)


def test_every_algorithm_folder_is_registered_and_the_spec_offers_exactly_them():
    assert set(algorithms()) == set(CONFIGS)
    name_field = SpecV1.model_fields["algorithm"].annotation.model_fields["name"]
    assert set(name_field.annotation.__args__) == set(CONFIGS)


def test_the_registry_and_the_spec_load_no_torch():
    code = (
        "import sys; sys.path.insert(0, 'platform');"
        "import rlab.spec; from training.algorithms import algorithms; algorithms();"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'vllm')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_block_field_reaches_a_trainer_config(name):
    block = get_algorithm(name).block
    assert block is not None
    assert unused_fields(block, *CONFIGS[name], used_elsewhere=READ_BY_THE_WORKER) == set()


def test_loss_names_are_the_registries_keys():
    assert set(AGGREGATION_NAMES) == set(AGGREGATIONS)
    assert set(KL_ESTIMATOR_NAMES) == set(KL_ESTIMATORS)
    spec_loss = SpecV1.model_fields["loss"].annotation
    assert set(spec_loss.model_fields) <= {f.name for f in dataclasses.fields(LossConfig)}


def test_config_from_takes_overrides_then_sources_in_order_and_refuses_unknown_overrides():
    spec = _spec("grpo", {"temperature": 0.9}, train={"lr": 3e-6, "seed": 7})
    config = config_from(GRPOConfig, spec.algorithm.grpo, spec.train, steps=9)
    assert (config.temperature, config.lr, config.seed, config.steps) == (0.9, 3e-6, 7, 9)
    assert config.top_k == GRPOConfig().top_k  # not in the spec: the config's own default
    with pytest.raises(TypeError, match="no field"):
        config_from(GRPOConfig, spec.train, nonsense=1)


def test_grpo_config_is_the_spec_field_by_field():
    spec = _spec(
        "grpo",
        {"rollouts_per_prompt": 4, "reward": "format", "normalize_advantage_by_std": False},
        loss={"aggregation": "seq-mean-token-sum-norm", "kl_coef": 0.0, "policy_loss": True},
        train={"weight_decay": 0.0, "max_response_length": 64, "keep_last": 2},
    )
    config = grpo_config(spec, TrainerRuntime())
    for source in (spec.algorithm.grpo, spec.train):
        for field in type(source).model_fields:
            if hasattr(config, field):
                value = getattr(source, field)
                assert getattr(config, field) == (tuple(value) if isinstance(value, list) else value), field
    for field in type(spec.loss).model_fields:
        assert getattr(config.loss, field) == getattr(spec.loss, field), field
    assert config.loss.norm_length == 64 and config.repeat_to_batch and config.best_metric == "reward_mean"


def test_entropy_only_and_gspo_fix_what_their_algorithm_defines():
    spec = _spec("entropy_only", loss={"kl_coef": 0.0})
    built = get_algorithm("entropy_only")
    assert built.block is not None and spec.algorithm.entropy_only is not None
    from training.algorithms.entropy_only.build import build_trainer  # noqa: F401 (importable)

    config = grpo_config(spec, TrainerRuntime(), loss_overrides={"policy_loss": False}, reward="none")
    assert config.reward == "none" and not config.loss.policy_loss


def test_sft_config_takes_the_algorithm_defaults_and_the_sequence_length():
    spec = _spec("sft", {"epochs": 3}, train={"max_prompt_length": 10, "max_response_length": 20})
    config = sft_config(spec, TrainerRuntime())
    assert (config.lr, config.weight_decay, config.epochs, config.max_length) == (1e-5, 0.0, 3, 30)


# ------------------------------------------------------------------ GSPO (Zheng et al. 2025, Eqs. 5-7, 13)

LOGP = [[-1.0, -2.0], [-0.5, -9.0]]
OLD_LOGP = [[-1.1, -2.1], [-0.7, -3.0]]
MASK = torch.tensor([[1.0, 1.0], [1.0, 0.0]])


def _gspo(advantages, clip=0.2):
    logp = torch.tensor(LOGP, requires_grad=True)
    per_token, metrics = gspo_policy_loss(
        logp, torch.tensor(OLD_LOGP), torch.tensor(advantages), MASK, clip, clip
    )
    loss = aggregate(per_token, MASK, "seq-mean-token-mean")
    loss.backward()
    return loss, logp.grad, metrics


def test_gspo_loss_on_a_hand_computed_case():
    # s_1 = exp((0.1 + 0.1)/2) = e^0.1 = 1.105171 (inside [0.8, 1.2]): loss_1 = -A·s = -1.105171
    # s_2 = exp(0.2 / 1) = e^0.2 = 1.221403 (the padded token is not counted); A = -1:
    #   max(-A·s, -A·clip(s)) = max(1.221403, 1.2) = 1.221403 (unclipped)
    # J-loss = mean(-1.105171, 1.221403) = 0.058116; d/dlogp: seq 1 -A·s/|y|/2 per token, seq 2 -A·s/2
    loss, grad, metrics = _gspo([1.0, -1.0])
    assert loss.item() == pytest.approx((-math.exp(0.1) + math.exp(0.2)) / 2, abs=1e-6)
    expected = torch.tensor([[-math.exp(0.1) / 4, -math.exp(0.1) / 4], [math.exp(0.2) / 2, 0.0]])
    torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-7)
    assert metrics["clip_frac"] == 0.5 and metrics["ratio_mean"] == pytest.approx(
        (math.exp(0.1) + math.exp(0.2)) / 2
    )


def test_gspo_clipped_sequence_gives_no_gradient():
    # A = +1 on sequence 2: max(-1.221403, -1.2) = -1.2, the clipped branch: no gradient through it.
    loss, grad, _ = _gspo([1.0, 1.0])
    assert loss.item() == pytest.approx((-math.exp(0.1) - 1.2) / 2, abs=1e-6)
    assert grad[1].abs().sum().item() == 0.0


def test_gspo_token_form_has_the_sequence_objectives_gradient():
    """GSPO-token (Eq. 13) against the sequence-level objective (Eq. 5) written out directly."""
    advantages = torch.tensor([0.7, -1.3])
    logp = torch.tensor(LOGP, requires_grad=True)
    lengths = MASK.sum(-1)
    ratio = torch.exp(((logp - torch.tensor(OLD_LOGP)) * MASK).sum(-1) / lengths)
    direct = torch.maximum(-advantages * ratio, -advantages * ratio.clamp(0.8, 1.2)).mean()
    direct.backward()
    loss, grad, _ = _gspo(advantages.tolist())
    assert loss.item() == pytest.approx(direct.item(), abs=1e-6)
    torch.testing.assert_close(grad, logp.grad, rtol=1e-5, atol=1e-7)


def test_gspo_trains_through_its_registry_entry(tokenizer):
    spec = _spec(
        "gspo",
        {"rollouts_per_prompt": 4, "temperature": 1.0, "ppo_epochs": 2},
        data={"dataset": "arith", "examples": [0], "template": "one-shot-boxed"},
        train={"lr": 1e-2, "max_response_length": 6, "weight_decay": 0.0},
        loss={"kl_coef": 0.0, "entropy_coeff": -0.01},
    )
    examples = [TrainingExample("seven", "What is 3 + 4 ?", "7")]
    recorder = Recorder()
    runtime = TrainerRuntime(callbacks=recorder)
    trainer = get_algorithm("gspo").load_build()(spec, make_model(), tokenizer, examples, runtime)
    assert trainer.config.loss.aggregation == "seq-mean-token-mean"
    assert trainer.gspo == GSPOConfig()  # the paper's ε_left 3e-4, ε_right 4e-4
    result = trainer.train()
    assert result.step == 2 and [step for step, _ in recorder.steps] == [1, 2]
    for _, metrics in recorder.steps:
        assert math.isfinite(metrics["loss"]) and metrics["grad_norm"] > 0 and "clip_frac" in metrics
