"""Our `compute_loss` equals TRL 1.16 GRPOTrainer._compute_loss on the same batch, value and gradient.

A tiny random Qwen2 (vocab 32, one layer) is saved once; TRL builds its trainer (and reference model) from
that folder, and our side loads an untouched copy. Both compute the completion tokens' log-probs and
entropies at the same temperature; we pass TRL the same old/ref log-probs and advantages we use.

TRL ↔ ours: dapo/bnpo ↔ token-mean; grpo ↔ seq-mean-token-mean; dr_grpo ↔ seq-mean-token-sum-norm with
norm_length = B·max_completion_length (TRL divides the token sum by B·L, verl and we by L); epsilon/
epsilon_high ↔ clip_ratio_low/high; delta ↔ dual_clip_c; beta with use_bias_correction_kl=False ↔ kl_coef
with k3; entropy_coef ↔ -entropy_coeff (entropy always token-mean in TRL). TRL's loss is taken in eval mode,
where it is not divided by gradient-accumulation steps.
"""

import pytest
import torch
from datasets import Dataset
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM
from trl import GRPOConfig, GRPOTrainer

from tests.models import save_random_model
from training.losses import LossBatch, LossConfig, compute_loss, token_logps_and_entropy

BATCH, PROMPT_LEN, COMPLETION_LEN, TEMPERATURE = 4, 3, 5, 0.7


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    vocab = {token: i for i, token in enumerate(["<pad>", "<eos>"] + [f"w{i}" for i in range(30)])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>")
    path = tmp_path_factory.mktemp("tiny-qwen2")
    sizes = {
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "max_position_embeddings": 32,
    }
    save_random_model(path, tokenizer, architecture=(Qwen2Config, Qwen2ForCausalLM), **sizes)
    return path


@pytest.fixture(scope="module")
def batch(model_dir):
    generator = torch.Generator().manual_seed(1)
    prompt_ids = torch.randint(2, 32, (BATCH, PROMPT_LEN), generator=generator)
    completion_ids = torch.randint(2, 32, (BATCH, COMPLETION_LEN), generator=generator)
    lengths = torch.tensor([5, 3, 4, 2])
    completion_mask = (torch.arange(COMPLETION_LEN) < lengths.unsqueeze(1)).long()
    logp, _ = _our_logps_and_entropy(_load(model_dir), prompt_ids, completion_ids, completion_mask)
    old_shift = 0.3 * torch.randn(BATCH, COMPLETION_LEN, generator=generator)
    # Make every regime occur: r = e^{logp - old}; A > 0 above 1 + ε_high, A < 0 below 1 - ε, A < 0 above c.
    old_shift[0, 1], old_shift[2, 0], old_shift[1, 0] = -0.5, 0.6, -1.5
    return {
        "prompt_ids": prompt_ids,
        "prompt_mask": torch.ones_like(prompt_ids),
        "completion_ids": completion_ids,
        "completion_mask": completion_mask,
        "advantages": torch.tensor([1.0, -0.5, -1.2, 0.7]),
        "old_per_token_logps": logp.detach() + old_shift,
        "ref_per_token_logps": logp.detach() + 0.5 * torch.randn(BATCH, COMPLETION_LEN, generator=generator),
        "num_items_in_batch": completion_mask.sum(),
    }


def _load(model_dir):
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()


def _our_logps_and_entropy(model, prompt_ids, completion_ids, completion_mask):
    input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
    attention_mask = torch.cat([torch.ones_like(prompt_ids), completion_mask], dim=1)
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
    # logits at position t predict token t + 1: the completion is predicted from PROMPT_LEN - 1 on
    return token_logps_and_entropy(logits[:, PROMPT_LEN - 1 : -1], completion_ids, TEMPERATURE)


def _trl_trainer(model_dir, tmp_path, loss_type, beta, entropy_coef):
    args = GRPOConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        gradient_checkpointing=False,
        per_device_train_batch_size=BATCH,
        num_generations=2,
        max_completion_length=COMPLETION_LEN,
        temperature=TEMPERATURE,
        loss_type=loss_type,
        beta=beta,
        use_bias_correction_kl=False,
        epsilon=0.2,
        epsilon_high=0.28,
        delta=3.0,
        entropy_coef=entropy_coef,
    )
    tokenizer = PreTrainedTokenizerFast.from_pretrained(model_dir)
    trainer = GRPOTrainer(
        model=str(model_dir),
        reward_funcs=[lambda completions, **kwargs: [0.0] * len(completions)],
        args=args,
        train_dataset=Dataset.from_dict({"prompt": ["w1 w2"] * 2}),
        processing_class=tokenizer,
    )
    trainer.model.eval()
    return trainer


CASES = [
    ("dapo", 0.0, 0.0, "token-mean", None),
    ("bnpo", 0.04, 0.01, "token-mean", None),
    ("dapo", 0.04, 0.01, "token-mean", None),
    ("grpo", 0.04, 0.01, "seq-mean-token-mean", None),
    ("dr_grpo", 0.04, 0.01, "seq-mean-token-sum-norm", BATCH * COMPLETION_LEN),
]


@pytest.mark.parametrize(("loss_type", "beta", "entropy_coef", "agg_mode", "norm_length"), CASES)
def test_compute_loss_matches_trl(
    model_dir, batch, tmp_path, loss_type, beta, entropy_coef, agg_mode, norm_length
):
    trainer = _trl_trainer(model_dir, tmp_path, loss_type, beta, entropy_coef)
    trl_loss = trainer._compute_loss(trainer.model, dict(batch))
    trl_loss.backward()

    model = _load(model_dir)
    logp, entropy = _our_logps_and_entropy(
        model, batch["prompt_ids"], batch["completion_ids"], batch["completion_mask"]
    )
    config = LossConfig(
        clip_ratio_low=0.2,
        clip_ratio_high=0.28,
        dual_clip_c=3.0,
        aggregation=agg_mode,
        norm_length=norm_length,
        kl_coef=beta,
        kl_estimator="k3",
        entropy_coeff=-entropy_coef,
    )
    loss_batch = LossBatch(
        old_logp=batch["old_per_token_logps"],
        advantages=batch["advantages"],
        mask=batch["completion_mask"],
        ref_logp=batch["ref_per_token_logps"] if beta else None,
    )
    ours = compute_loss(logp, loss_batch, config, entropy=entropy)
    ours.loss.backward()

    torch.testing.assert_close(ours.loss, trl_loss, rtol=1e-5, atol=1e-6)
    assert ours.metrics["clip_frac"] > 0 and ours.metrics["dual_clip_frac"] > 0
    trl_grads = {name: p.grad for name, p in trainer.model.named_parameters()}
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.grad, trl_grads[name], rtol=1e-4, atol=1e-6, msg=name)
