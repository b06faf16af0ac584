"""Data-parallel GRPO on CPU: two gloo processes (torch.multiprocessing, torchrun's environment variables)
against one process on the same rollouts, with the tiny Llama of tests/models.py.

The rollouts come from a scripted engine whose responses depend only on (prompt, response index, step), so
both runs train on exactly the same rollouts; responses differ in length, so a wrong token-mean
normaliser (each rank's own token count instead of the global one) shows up in the update.
"""

import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch.distributed.tensor import DTensor
from transformers import AutoModelForCausalLM

from tests.models import make_model, make_tokenizer
from tests.services import free_port
from tests.training.scripted import ScriptedEngine, contains_answer
from training.algorithms.grpo.config import GRPOConfig
from training.algorithms.grpo.trainer import GRPOTrainer
from training.algorithms.srft.trainer import SRFTTrainer
from training.callbacks import NullCallbacks
from training.checkpoints import CheckpointError
from training.distributed import SINGLE_PROCESS, Distributed, close, init_from_env, mini_batch_shares
from training.examples import TrainingExample
from training.losses import LossConfig
from training.rewards import REWARDS

CONTAINS_ANSWER = "test-distributed-contains-answer"
WORLD_SIZE = 2
# 5 examples in batches of 4: step 2 is the last, 1-prompt batch of the epoch, so one rank's share of it is
# empty; step 3 starts the next epoch.
EXAMPLES = [
    TrainingExample(key, f"What is {a} + {b} ?", str(a + b), demonstration=f"{a} + {b} = {a + b}")
    for key, (a, b) in enumerate([(3, 4), (5, 4), (2, 4), (1, 2), (4, 4)])
]
BASE = GRPOConfig(
    template="one-shot-boxed",
    batch_size=4,
    rollouts_per_prompt=4,
    max_response_length=6,
    temperature=1.0,
    reward=CONTAINS_ANSWER,
    lr=1e-3,
    steps=3,
)
# name -> (config, trainer class). Each exercises one normaliser: token-mean over the global token count
# with two optimizer steps per batch (old log-probs recomputed), KL and entropy; token-mean over
# micro-batches; the constant-normalised sum (Dr. GRPO); SRFT's demonstration rows.
RUNS: dict[str, tuple[GRPOConfig, type[GRPOTrainer]]] = {
    "token-mean": (
        replace(BASE, mini_batch_size=2, save_every=2, loss=LossConfig(kl_coef=0.01, entropy_coeff=-0.01)),
        GRPOTrainer,
    ),
    "micro-batches": (replace(BASE, micro_batch_size=2), GRPOTrainer),
    "sum-norm": (
        replace(
            BASE,
            loss=LossConfig(
                aggregation="seq-mean-token-sum-norm",
                entropy_aggregation="seq-mean-token-sum-norm",
                norm_length=6,
            ),
        ),
        GRPOTrainer,
    ),
    "srft": (replace(BASE, mini_batch_size=2), SRFTTrainer),
    # Micro-batches of 1-2 rows by a token budget: the ranks' pass counts differ, the rank with fewer
    # runs idle passes (every pass is an FSDP2 collective); decoder layers recomputed in the backward.
    "token-budget": (
        replace(
            BASE,
            mini_batch_size=2,
            max_prompt_length=40,
            max_tokens_per_micro_batch=46,
            activation_checkpointing=True,
            loss=LossConfig(kl_coef=0.01),
        ),
        GRPOTrainer,
    ),
}
COMPARED_METRICS = (
    "loss",
    "pg_loss",
    "kl",
    "entropy",
    "reward_mean",
    "train_accuracy",
    "grad_norm",
    "response_length_mean",
    "response_length_max",
    "clip_frac",
)


class Recorder(NullCallbacks):
    def __init__(self, stop_after: int | None = None) -> None:
        self.events: list[tuple] = []
        self.stop_after = stop_after

    def on_step(self, step, metrics):
        self.events.append(("step", step, metrics))

    def on_example_accuracy(self, epoch, accuracy):
        self.events.append(("accuracy", epoch, accuracy))

    def on_checkpoint(self, step, path, dtype):
        self.events.append(("checkpoint", step, Path(path).name))

    def should_stop(self):
        return self.stop_after is not None and sum(e[0] == "step" for e in self.events) >= self.stop_after


def train(name: str, output_dir: Path, distributed: Distributed = SINGLE_PROCESS, **options) -> dict:
    config, trainer_class = RUNS[name]
    tokenizer = make_tokenizer()
    callbacks = Recorder(options.pop("stop_after", None))
    trainer = trainer_class(
        make_model(seed=1),
        tokenizer,
        EXAMPLES,
        replace(config, output_dir=str(output_dir), **options.pop("config", {})),
        callbacks=callbacks,
        rollout_engine=ScriptedEngine(tokenizer),
        distributed=distributed,
        **options,
    )
    result = trainer.train()
    return {
        "parameters": full_parameters(trainer.model),
        "events": callbacks.events,
        "history": trainer.accuracy_history,
        "result": (result.step, result.stopped),
    }


def full_parameters(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's parameters, gathered from every rank's shards when sharded (a collective)."""
    return {
        name: (p.full_tensor() if isinstance(p, DTensor) else p).detach().clone()
        for name, p in model.named_parameters()
    }


def _rank_main(rank: int, port: int, directory: str) -> None:
    """One data-parallel process: torchrun's environment, then every run of RUNS, a stop and a resume."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(WORLD_SIZE),
    )
    torch.set_num_threads(1)
    REWARDS[CONTAINS_ANSWER] = contains_answer
    distributed = init_from_env()
    root = Path(directory)
    try:
        results = {name: train(name, root / name, distributed) for name in RUNS}
        results["stopped"] = train("micro-batches", root / "stopped", distributed, stop_after=1)
        # Only a run's newest checkpoint keeps its resume state: stop one after step 2, resume from there.
        train("token-mean", root / "half", distributed, stop_after=2)
        results["resumed"] = train(
            "token-mean", root / "resumed", distributed, resume_from=root / "half" / "step-00000002"
        )
        torch.save(results, root / f"rank{rank}.pt")
    finally:
        close()


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> tuple[Path, list[dict]]:
    directory = tmp_path_factory.mktemp("data-parallel")
    mp.spawn(_rank_main, args=(free_port(), str(directory)), nprocs=WORLD_SIZE, join=True)
    return directory, [torch.load(directory / f"rank{r}.pt", weights_only=False) for r in range(WORLD_SIZE)]


@pytest.fixture(autouse=True)
def contains_answer_reward(monkeypatch):
    monkeypatch.setitem(REWARDS, CONTAINS_ANSWER, contains_answer)


def _steps(events: list[tuple]) -> list[dict]:
    return [metrics for kind, _, metrics in events if kind == "step"]


@pytest.mark.parametrize("name", list(RUNS))
def test_two_processes_make_the_single_process_update(two_processes, tmp_path, name):
    _, ranks = two_processes
    single = train(name, tmp_path)
    parallel = ranks[0][name]
    for parameter, value in single["parameters"].items():
        # Summation order differs; AdamW magnifies that in near-zero gradients (seen: < 5e-6; lr 1e-3).
        assert torch.allclose(parallel["parameters"][parameter], value, rtol=1e-4, atol=2e-5), parameter
        assert torch.equal(ranks[1][name]["parameters"][parameter], parallel["parameters"][parameter])
    assert parallel["history"] == single["history"]
    for expected, got in zip(_steps(single["events"]), _steps(parallel["events"]), strict=True):
        for metric in COMPARED_METRICS:
            if expected.get(metric) is None:
                assert got.get(metric) is None, metric
            else:
                assert got[metric] == pytest.approx(expected[metric], rel=1e-4, abs=1e-6), metric


def test_the_update_moves_the_weights(two_processes):
    """Guards the comparison above against a run in which nothing trains."""
    _, ranks = two_processes
    initial = dict(make_model(seed=1).named_parameters())
    moved = [n for n, p in ranks[0]["token-mean"]["parameters"].items() if not torch.equal(p, initial[n])]
    assert len(moved) == len(initial)


def test_only_rank_zero_reports_and_writes_checkpoints(two_processes):
    directory, ranks = two_processes
    events = ranks[0]["token-mean"]["events"]
    assert [(kind, step) for kind, step, _ in events] == [
        ("step", 1),
        ("step", 2),
        ("accuracy", 0),
        ("checkpoint", 2),
        ("step", 3),
        ("checkpoint", 3),
    ]
    assert all(ranks[1][name]["events"] == [] for name in (*RUNS, "stopped", "resumed"))
    written = sorted(path.name for path in (directory / "token-mean").iterdir())
    assert written == ["step-00000002", "step-00000003"]


def test_rank_zeros_stop_ends_every_rank(two_processes):
    _, ranks = two_processes
    assert [rank["stopped"]["result"] for rank in ranks] == [(1, True), (1, True)]


def test_every_rank_resumes_from_the_checkpoint(two_processes):
    _, ranks = two_processes
    for rank in ranks:
        assert rank["resumed"]["result"] == (3, False)
        for parameter, value in ranks[0]["token-mean"]["parameters"].items():
            assert torch.allclose(rank["resumed"]["parameters"][parameter], value, atol=1e-6), parameter


def test_a_sharded_checkpoint_is_a_plain_hugging_face_folder(two_processes):
    """Evaluation loads a checkpoint by path: config, safetensors and tokenizer of the gathered weights,
    beside the ranks' shards (sharded/) for resuming."""
    directory, ranks = two_processes
    path = directory / "token-mean" / "step-00000003"
    assert (path / "sharded" / ".metadata").is_file()
    assert (path / "config.json").is_file() and (path / "tokenizer.json").is_file()
    assert not list(path.glob("*.safetensors.index.json"))
    loaded = AutoModelForCausalLM.from_pretrained(path)
    final = ranks[0]["token-mean"]["parameters"]
    for name, value in loaded.named_parameters():
        assert torch.equal(value, final[name]), name


def test_a_sharded_checkpoint_does_not_resume_in_one_process(two_processes, tmp_path):
    directory, _ = two_processes
    with pytest.raises(CheckpointError, match="from sharded training"):
        train("token-mean", tmp_path, resume_from=directory / "half" / "step-00000002")


def test_batch_sizes_must_divide_among_the_processes(tmp_path):
    two = Distributed(rank=0, world_size=2)
    with pytest.raises(ValueError, match="batch_size 3 must be divisible by the 2 data-parallel processes"):
        train("micro-batches", tmp_path, two, config={"batch_size": 3})
    with pytest.raises(ValueError, match="mini_batch_size 1 must be divisible"):
        train("micro-batches", tmp_path, two, config={"mini_batch_size": 1})


def test_mini_batch_shares_split_every_mini_batch():
    assert mini_batch_shares(4, 2, 0, 2) == [range(0, 1), range(2, 3)]
    assert mini_batch_shares(4, 2, 1, 2) == [range(1, 2), range(3, 4)]
    assert mini_batch_shares(1, 4, 0, 2) == [range(0, 0)]  # a last batch smaller than the world
    assert mini_batch_shares(1, 4, 1, 2) == [range(0, 1)]
    assert mini_batch_shares(5, 2, 0, 1) == [range(0, 2), range(2, 4), range(4, 5)]
