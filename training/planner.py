"""Per-device memory and step-time estimates for a training spec, without torch (the web process, `rlab plan`
and submission use it; docs/distributed.md §4 explains the terms).

The model is read from its config.json (a local folder, the Hugging Face cache, or `KNOWN_MODELS` for hub
ids and embedded models: the hubs are unreachable from here). Memory is counted per device and per phase:

- rollout phase: the trainer's resident state (weights, AdamW state, reference) plus the rollout engine
  (vLLM's reservation, `gpu_memory_utilization` of the device, which holds its weights and KV cache; or the
  transformers engine's KV cache on CPU);
- training phase: resident state plus gradients, the bf16 compute copy of the weights, the activations of
  one micro-batch and the log-prob chunk of full-vocabulary logits; plus vLLM's reservation unless the
  engine sleeps (level 1: weights to host memory, KV cache freed) while the trainer runs.

With `processes` N > 1 on GPUs, parameters, gradients and optimizer state are sharded over the N ranks (FSDP2)
and each rank also holds the gathered bf16 weights of the layers in flight. Sequences are counted at full
length (max_prompt_length + max_response_length): the estimate is an upper bound for the step's real
lengths. The activation constants are counted from the decoder layer's saved tensors and checked against
measured peaks (tests/training/test_planner.py on CPU, bench/bench_gpu.py on a GPU).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

GiB = 1024**3
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(GiB|GB|MiB|MB|G|M)?\s*$", re.IGNORECASE)
_UNITS = {"gib": GiB, "g": GiB, "gb": 10**9, "mib": 1024**2, "m": 1024**2, "mb": 10**6}

# config.json fields of models the planner must size without a download (from each model's hub config).
_QWEN25_MATH_15B = {
    "hidden_size": 1536,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "intermediate_size": 8960,
    "vocab_size": 151936,
    "tie_word_embeddings": True,
    "attention_bias": True,
}
_QWEN25_MATH_7B = {
    "hidden_size": 3584,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "intermediate_size": 18944,
    "vocab_size": 152064,
    "tie_word_embeddings": False,
    "attention_bias": True,
}
KNOWN_MODELS: dict[str, dict[str, Any]] = {
    "Qwen/Qwen2.5-Math-1.5B": _QWEN25_MATH_15B,
    "Qwen/Qwen2.5-Math-1.5B-Instruct": _QWEN25_MATH_15B,
    "Qwen/Qwen2.5-Math-7B": _QWEN25_MATH_7B,
    "Qwen/Qwen2.5-Math-7B-Instruct": _QWEN25_MATH_7B,
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": {**_QWEN25_MATH_15B, "tie_word_embeddings": False},
    "smollm2-135m-instruct": {
        "hidden_size": 576,
        "num_hidden_layers": 30,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
        "intermediate_size": 1536,
        "vocab_size": 49152,
        "tie_word_embeddings": True,
        "attention_bias": False,
    },
}
KNOWN_MODELS["HuggingFaceTB/SmolLM2-135M-Instruct"] = KNOWN_MODELS["smollm2-135m-instruct"]

# Activation bytes saved per token and decoder layer, in units of the activation dtype's width, counted from
# a Llama/Qwen2 layer under SDPA attention (no s² scores): input, two RMSNorms (normalised + scaled),
# RoPE'd q and k, v, k/v repeated for GQA, attention output and its contiguous copy, the residual sum
# (11·hidden), gate, SiLU(gate), up and their product (4·intermediate).
HIDDEN_ACTIVATIONS = 11
INTERMEDIATE_ACTIVATIONS = 4
# RMSNorm computes in float32: under bf16 autocast its input and normalised copies are float32 (2 norms ×
# 2 tensors × 4 bytes per hidden unit), on top of the bf16 tensors above.
NORM_FLOAT32_ACTIVATIONS = 4
# Full-vocabulary float32 tensors alive at once per log-prob token: logits, logits / T, log-softmax, its exp.
LOGITS_COPIES = 4
# Share of a device that may be planned: the rest is the CUDA context, NCCL buffers and fragmentation.
USABLE_SHARE = 0.9
# Roofline assumptions for the step time when no measured throughput is given (H100 SXM, bf16 dense).
DEFAULT_GPU = {"memory_bandwidth": 3.35e12, "flops": 989e12}
DECODE_BANDWIDTH_EFFICIENCY = 0.6
TRAIN_MFU = 0.35


class PlanError(ValueError):
    """A spec or model the planner cannot size; the message says what is missing."""


def parse_size(text: str | int | float) -> int:
    """Bytes from "80GiB", "80G" (GiB), "80GB" (10⁹), "512MiB" or a plain number of bytes."""
    if isinstance(text, int | float):
        return int(text)
    match = _SIZE.match(text)
    if match is None:
        raise PlanError(f"{text!r} is not a size like 80GiB, 80GB or 512MiB")
    number, unit = match.groups()
    return int(float(number) * (_UNITS[unit.lower()] if unit else 1))


def format_bytes(count: float) -> str:
    return f"{count / GiB:.2f} GiB" if count >= GiB / 10 else f"{count / 1024**2:.1f} MiB"


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs of a decoder-only transformer's config.json."""

    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    attention_bias: bool

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ModelShape:
        try:
            hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
            return cls(
                hidden_size=hidden,
                num_layers=int(config["num_hidden_layers"]),
                num_heads=heads,
                num_kv_heads=int(config.get("num_key_value_heads") or heads),
                head_dim=int(config.get("head_dim") or hidden // heads),
                intermediate_size=int(config["intermediate_size"]),
                vocab_size=int(config["vocab_size"]),
                tie_word_embeddings=bool(config.get("tie_word_embeddings", True)),
                attention_bias=bool(config.get("attention_bias", config.get("model_type") == "qwen2")),
            )
        except KeyError as missing:
            raise PlanError(f"the model's config.json has no {missing.args[0]!r}") from None

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    @property
    def layer_parameters(self) -> int:
        h, q = self.hidden_size, self.num_heads * self.head_dim
        attention = h * q + 2 * h * self.kv_dim + q * h + (q + 2 * self.kv_dim if self.attention_bias else 0)
        return attention + 3 * h * self.intermediate_size + 2 * h

    @property
    def embedding_parameters(self) -> int:
        """Input embedding, plus the LM head when it is not tied to it."""
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)

    @property
    def parameters(self) -> int:
        return self.embedding_parameters + self.num_layers * self.layer_parameters + self.hidden_size

    @property
    def largest_tensor(self) -> int:
        return max(self.vocab_size * self.hidden_size, self.hidden_size * self.intermediate_size)

    def kv_bytes_per_token(self, dtype_bytes: int = 2) -> int:
        return 2 * self.num_layers * self.kv_dim * dtype_bytes


def model_shape(ref: str) -> ModelShape:
    """The shape of `ref`: a local folder with config.json, a model in the Hugging Face cache, or one of
    KNOWN_MODELS. `run:` references and GGUF files are sized by the model they came from."""
    ref = ref.strip()
    if ref in KNOWN_MODELS:
        return ModelShape.from_config(KNOWN_MODELS[ref])
    folder = Path(ref).expanduser()
    if (folder / "config.json").is_file():
        return ModelShape.from_config(json.loads((folder / "config.json").read_text()))
    cached = _cached_hub_config(ref)
    if cached is not None:
        return ModelShape.from_config(json.loads(cached.read_text()))
    raise PlanError(
        f"cannot size model {ref!r}: no config.json in a local folder or the Hugging Face cache, and not "
        f"one of the known models ({', '.join(sorted(KNOWN_MODELS))})"
    )


def _cached_hub_config(ref: str) -> Path | None:
    if ref.count("/") != 1 or ref.startswith(("/", ".", "~")):
        return None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(ref, "config.json")
    return Path(found) if isinstance(found, str) else None


@dataclass(frozen=True)
class PlanSettings:
    """What a run does that decides its memory, per data-parallel rank."""

    model: ModelShape
    on_gpu: bool
    dtype_bytes: int  # the model's own dtype (bf16 on GPU for dtype auto, float32 on CPU)
    master_weights: bool  # bf16/fp16 weights trained through float32 copies
    processes: int  # data-parallel ranks; FSDP2-sharded when > 1 on GPUs
    sequence_length: int  # prompt + response tokens of one row
    response_length: int
    mini_batch_rows: int  # rows (responses) of a rank's share of one mini-batch
    micro_batch_size: int | None  # rows per forward/backward; None = the whole mini-batch
    max_tokens_per_micro_batch: int | None = None
    logprob_chunk_tokens: int = 4096
    activation_checkpointing: bool = False
    reference: bool = False  # a frozen reference model (KL term)
    rollout_rows: int = 0  # responses a rank generates per step; 0 = no rollouts (SFT)
    rollout_engine: str = "transformers"
    gpu_memory_utilization: float = 0.3
    tensor_parallel_size: int = 1
    engine_sleeps: bool = True

    @property
    def sharded(self) -> bool:
        return self.on_gpu and self.processes > 1

    @property
    def micro_rows(self) -> int:
        rows = min(self.micro_batch_size or self.mini_batch_rows, self.mini_batch_rows)
        if self.max_tokens_per_micro_batch is not None:
            rows = min(rows, max(1, self.max_tokens_per_micro_batch // self.sequence_length))
        return max(rows, 1)


@dataclass(frozen=True)
class Plan:
    settings: PlanSettings
    device_memory: int | None  # bytes of one device, when a fit was asked for
    rollout_phase: dict[str, int]
    training_phase: dict[str, int]
    kv_cache_needed: int  # KV of the rank's whole rollout batch at full length (vLLM)
    kv_cache_available: int | None  # what vLLM's reservation leaves for KV after its weights
    largest_micro_batch: int | None  # rows that fit `device_memory` (None: no device given, 0: none fits)
    step_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def peak(self) -> int:
        return max(sum(self.rollout_phase.values()), sum(self.training_phase.values()))

    @property
    def fits(self) -> bool | None:
        return None if self.device_memory is None else self.peak <= USABLE_SHARE * self.device_memory


def training_memory(s: PlanSettings) -> dict[str, int]:
    """Bytes per device while the trainer runs one micro-batch's forward and backward pass."""
    memory = resident_memory(s)
    p, shards = s.model.parameters, s.processes if s.sharded else 1
    trained_bytes = 4 if s.master_weights else s.dtype_bytes
    memory["gradients"] = trained_bytes * p // shards
    if s.sharded:  # gathered bf16 weights: embedding/head (root) and two layers (current + prefetched)
        gathered = s.model.embedding_parameters + 2 * s.model.layer_parameters
        memory["gathered weights"] = s.dtype_bytes * gathered + trained_bytes * s.model.layer_parameters
    elif s.master_weights:  # autocast's cache of the bf16 weights during forward and backward
        memory["bf16 weight cache"] = s.dtype_bytes * p
    memory["activations"] = activation_bytes(s, s.micro_rows)
    memory["log-prob logits"] = logits_bytes(s, s.micro_rows)
    step_scratch = trained_bytes * (p // shards if s.on_gpu else s.model.largest_tensor)
    memory["activations"] = max(memory["activations"], step_scratch - memory["log-prob logits"])
    if s.rollout_engine == "vllm" and not s.engine_sleeps:
        memory["vLLM (awake)"] = vllm_reservation(s)
    return memory


def resident_memory(s: PlanSettings) -> dict[str, int]:
    """What stays on the device for the whole run: weights, AdamW's two moments, the reference."""
    p, shards = s.model.parameters, s.processes if s.sharded else 1
    trained_bytes = 4 if s.master_weights else s.dtype_bytes
    memory = {
        "weights" + (" (fp32 master)" if s.master_weights else ""): trained_bytes * p // shards,
        "optimizer state": 2 * trained_bytes * p // shards,
    }
    if s.reference:
        memory["reference model"] = s.dtype_bytes * p // shards
    return memory


def rollout_memory(s: PlanSettings, device_memory: int | None) -> dict[str, int]:
    memory = resident_memory(s)
    if s.rollout_rows == 0:
        return memory
    if s.rollout_engine == "vllm":
        memory["vLLM (weights + KV cache)"] = vllm_reservation(s, device_memory)
    else:  # transformers generate: the KV cache of every row plus the last position's logits
        kv = s.model.kv_bytes_per_token(s.dtype_bytes) * s.rollout_rows * s.sequence_length
        memory["KV cache (generate)"] = kv + LOGITS_COPIES * 4 * s.rollout_rows * s.model.vocab_size
    return memory


def vllm_reservation(s: PlanSettings, device_memory: int | None = None) -> int:
    """vLLM claims gpu_memory_utilization of the device; without a device size, its weights and the KV
    cache of the rank's rollout batch."""
    if device_memory is not None:
        return int(s.gpu_memory_utilization * device_memory)
    return vllm_weight_bytes(s) + kv_cache_bytes(s)


def vllm_weight_bytes(s: PlanSettings) -> int:
    return 2 * s.model.parameters // s.tensor_parallel_size


def kv_cache_bytes(s: PlanSettings) -> int:
    """The bf16 KV cache of the rank's rollout rows at full length. With tensor parallelism an engine serves
    the prompts of its tp ranks, split over their tp devices: the same bytes per device."""
    return s.model.kv_bytes_per_token(2) * s.rollout_rows * s.sequence_length


def activation_bytes(s: PlanSettings, rows: int) -> int:
    """Saved activations of one micro-batch of `rows` full-length rows (all layers)."""
    m, tokens = s.model, rows * s.sequence_length
    width = s.dtype_bytes
    per_token_layer = width * (
        HIDDEN_ACTIVATIONS * m.hidden_size + INTERMEDIATE_ACTIVATIONS * m.intermediate_size
    )
    if width < 4:
        per_token_layer += 4 * NORM_FLOAT32_ACTIVATIONS * m.hidden_size
    if s.activation_checkpointing:  # each layer's input, plus one layer recomputed at a time
        return tokens * (m.num_layers * width * m.hidden_size + per_token_layer)
    return tokens * m.num_layers * per_token_layer


def logits_bytes(s: PlanSettings, rows: int) -> int:
    """Full-vocabulary float32 logits of the log-prob chunk (at most the micro-batch's response tokens)."""
    tokens = min(s.logprob_chunk_tokens, rows * (s.response_length + 1))
    return LOGITS_COPIES * 4 * tokens * s.model.vocab_size


def plan(
    settings: PlanSettings,
    device_memory: int | None = None,
    decode_tokens_per_second: float | None = None,
    train_tokens_per_second: float | None = None,
) -> Plan:
    """Memory per phase for `settings`, the largest micro-batch that fits `device_memory` (bytes of one
    device) and the step time (roofline unless measured throughputs are given)."""
    largest = None
    if device_memory is not None:
        largest = _largest_micro_batch(settings, device_memory)
    return Plan(
        settings=settings,
        device_memory=device_memory,
        rollout_phase=rollout_memory(settings, device_memory),
        training_phase=training_memory(settings),
        kv_cache_needed=kv_cache_bytes(settings) if settings.rollout_engine == "vllm" else 0,
        kv_cache_available=(
            int(settings.gpu_memory_utilization * device_memory) - vllm_weight_bytes(settings)
            if settings.rollout_engine == "vllm" and device_memory is not None
            else None
        ),
        largest_micro_batch=largest,
        step_seconds=step_seconds(settings, decode_tokens_per_second, train_tokens_per_second),
    )


def _largest_micro_batch(s: PlanSettings, device_memory: int) -> int:
    budget = USABLE_SHARE * device_memory
    if sum(rollout_memory(s, device_memory).values()) > budget:
        return 0
    low, high = 0, s.mini_batch_rows
    while low < high:  # memory grows with the rows: the largest fitting count by bisection
        middle = (low + high + 1) // 2
        trial = replace(s, micro_batch_size=middle, max_tokens_per_micro_batch=None)
        if sum(training_memory(trial).values()) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def step_seconds(
    s: PlanSettings, decode_tokens_per_second: float | None, train_tokens_per_second: float | None
) -> dict[str, float]:
    """Seconds of one step per phase at full lengths: generation at the measured decode rate (else each
    decode step reads the engine's weights and KV once at DECODE_BANDWIDTH_EFFICIENCY of the memory
    bandwidth), training at the measured rate (else 6·params FLOPs per token, 8 with recomputation, at
    TRAIN_MFU; plus a forward pass for the reference)."""
    seconds: dict[str, float] = {}
    if s.rollout_rows:
        if decode_tokens_per_second:
            seconds["generation"] = s.rollout_rows * s.response_length / decode_tokens_per_second
        else:
            mean_kv = kv_cache_bytes(s) / 2  # the cache fills up over the response: half full on average
            per_decode_step = (vllm_weight_bytes(s) + mean_kv) / (
                DEFAULT_GPU["memory_bandwidth"] * DECODE_BANDWIDTH_EFFICIENCY
            )
            seconds["generation"] = s.response_length * per_decode_step
    tokens = s.mini_batch_rows * s.sequence_length * max(1, s.rollout_rows // max(s.mini_batch_rows, 1))
    if train_tokens_per_second:
        seconds["training"] = tokens / train_tokens_per_second
    else:
        passes = 6 + (2 if s.activation_checkpointing else 0) + (2 if s.reference else 0)
        seconds["training"] = passes * s.model.parameters * tokens / (DEFAULT_GPU["flops"] * TRAIN_MFU)
    return seconds


def settings_from_spec(spec: Any, gpus: int | None = None) -> PlanSettings:
    """PlanSettings of a validated SpecV1; `gpus` replaces resources.gpus (and the processes it implies)."""
    from training.algorithms import get_algorithm
    from training.algorithms.grpo.entry import RolloutEngineBlock
    from training.algorithms.srft.entry import DemonstrationsBlock

    train, resources = spec.train, spec.resources
    on_gpu = resources.queue == "gpu"
    processes = resources.processes or 1
    if gpus is not None and on_gpu:
        processes = gpus if resources.processes == resources.gpus else min(processes, gpus)
    block = getattr(spec.algorithm, spec.algorithm.name, None)
    rollouts = isinstance(block, RolloutEngineBlock)
    group = block.rollouts_per_prompt if rollouts else 1
    rows_per_prompt = group + (1 if isinstance(block, DemonstrationsBlock) else 0)  # + the demonstration
    dtype = {"float32": 4, "bfloat16": 2, "float16": 2}.get(spec.model.dtype, 2 if on_gpu else 4)
    mini_prompts = (
        train.mini_batch_size if get_algorithm(spec.algorithm.name).data_parallel else train.batch_size
    )
    return PlanSettings(
        model=model_shape(spec.model.id),
        on_gpu=on_gpu,
        dtype_bytes=dtype,
        master_weights=dtype < 4,
        processes=processes,
        sequence_length=train.max_prompt_length + train.max_response_length,
        response_length=train.max_response_length,
        mini_batch_rows=max(1, math.ceil(mini_prompts * rows_per_prompt / processes)),
        micro_batch_size=getattr(train, "micro_batch_size", None) or getattr(block, "micro_batch_size", None),
        max_tokens_per_micro_batch=getattr(train, "max_tokens_per_micro_batch", None),
        logprob_chunk_tokens=getattr(train, "logprob_chunk_tokens", 4096),
        activation_checkpointing=getattr(train, "activation_checkpointing", False),
        reference=spec.loss.kl_coef > 0 and rollouts,
        rollout_rows=math.ceil(train.batch_size * group / processes) if rollouts else 0,
        rollout_engine="vllm" if on_gpu and rollouts else "transformers",
        gpu_memory_utilization=getattr(block, "rollout_gpu_memory_utilization", 0.3),
        tensor_parallel_size=getattr(block, "rollout_tensor_parallel_size", 1),
        engine_sleeps=getattr(block, "rollout_sleep", True),
    )


def report_lines(result: Plan) -> list[str]:
    """The plan as text: each phase's terms, the peak, the fit, the largest micro-batch and the step time."""
    s = result.settings
    layout = f"{s.processes} process(es)" + (", FSDP2-sharded" if s.sharded else "")
    lines = [
        f"model: {s.model.parameters / 1e9:.3f}B parameters, {s.model.num_layers} layers; {layout}; "
        f"micro-batch {s.micro_rows} rows × {s.sequence_length} tokens of a {s.mini_batch_rows}-row "
        f"mini-batch per rank" + ("; activation checkpointing" if s.activation_checkpointing else ""),
    ]
    for title, phase in (("rollout phase", result.rollout_phase), ("training phase", result.training_phase)):
        lines.append(f"{title}: {format_bytes(sum(phase.values()))} per device")
        lines += [f"  {name:<28} {format_bytes(count):>12}" for name, count in phase.items()]
    lines.append(f"peak: {format_bytes(result.peak)} per device")
    if result.kv_cache_available is not None:
        share = result.kv_cache_available / max(result.kv_cache_needed, 1)
        lines.append(
            f"vLLM KV cache: {format_bytes(max(result.kv_cache_available, 0))} available for "
            f"{format_bytes(result.kv_cache_needed)} of rollouts at full length"
            + (
                ""
                if share >= 1
                else f" ({share:.0%}: vLLM runs fewer sequences at once, generation is slower)"
            )
        )
    if result.device_memory is not None:
        budget = format_bytes(USABLE_SHARE * result.device_memory)
        verdict = "fits" if result.fits else "does NOT fit"
        lines.append(f"{verdict} in {format_bytes(result.device_memory)} per device ({budget} usable)")
        if result.largest_micro_batch == 0:
            lines.append("largest micro-batch that fits: none (the resident state alone does not fit)")
        else:
            lines.append(
                f"largest micro-batch that fits: {result.largest_micro_batch} rows (train.micro_batch_size)"
            )
    if result.step_seconds:
        phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result.step_seconds.items())
        lines.append(f"step time at full lengths: {phases}")
    return lines
