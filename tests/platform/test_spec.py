"""The experiment spec: examples validate, malformed specs name the field, sweeps expand."""

from pathlib import Path

import pytest
import yaml

from rlab.spec import SpecError, content_hash, expand_sweep, json_schema, parse_spec, validate_spec

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "specs").glob("*.yaml"))

MINIMAL = "name: minimal\nmodel: {id: Qwen/Qwen2.5-Math-1.5B}\ndata: {dataset: dsr_sub}\n"
BASE = {
    "name": "base",
    "model": {"id": "Qwen/Qwen2.5-Math-1.5B"},
    "data": {"dataset": "dsr_sub", "examples": ["pi1"]},
}


def spec_with(path: str, value) -> dict:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    node = data
    *parents, leaf = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return data


def test_there_are_example_specs():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_specs_are_valid(path):
    spec = parse_spec(path.read_text())
    assert expand_sweep(spec)


def test_defaults_are_the_papers_setup():
    spec = validate_spec(BASE)
    assert (spec.train.lr, spec.train.batch_size, spec.train.mini_batch_size) == (1e-6, 128, 128)
    assert spec.algorithm.grpo.rollouts_per_prompt == 8 and spec.algorithm.grpo.temperature == 0.6
    assert (spec.loss.kl_coef, spec.loss.entropy_coeff, spec.train.weight_decay) == (0.001, -0.001, 0.01)
    assert (spec.train.max_prompt_length, spec.train.max_response_length, spec.train.save_every) == (
        1024,
        3072,
        20,
    )
    assert spec.data.examples == ["pi1"]


MALFORMED = [
    ("train.lr", -1, "train.lr", "greater than 0"),
    ("train.lr", "fast", "train.lr", "number"),
    ("train.batch_size", 0, "train.batch_size", "greater than or equal to 1"),
    ("train.mini_batch_size", 256, "train", "must not exceed train.batch_size"),
    ("train.steps", 2.5, "train.steps", "integer"),
    ("train.lrate", 0.1, "train.lrate", "unknown field"),
    ("model.id", "not a model id!", "model.id", "neither a hub id"),
    ("model.dtype", "int3", "model.dtype", "'auto', 'float32', 'bfloat16' or 'float16'"),
    ("algorithm.name", "ppo-magic", "algorithm.name", "'grpo'"),
    ("algorithm.srft", {"sft_weight_scale": 0.5}, "algorithm", "only allowed when algorithm.name is srft"),
    (
        "algorithm.grpo",
        {"rollouts_per_prompt": 1},
        "algorithm.grpo.rollouts_per_prompt",
        "greater than or equal to 2",
    ),
    ("loss.aggregation", "mean-of-means", "loss.aggregation", "'token-mean'"),
    ("loss.kl_coef", -0.1, "loss.kl_coef", "greater than or equal to 0"),
    ("data.examples", ["pi0"], "data.examples[0]", "start at 1"),
    ("data.examples", ["first"], "data.examples[0]", "π name like pi1"),
    ("data.examples", [], "data", "at least one example"),
    ("data.examples", list(range(200)), "", "200 examples do not fit in train.batch_size 128"),
    ("resources", {"queue": "gpu", "gpus": 3}, "", "train.batch_size (128) must be divisible by resources"),
    ("algorithm.srft", {"sft_entropy_sign": 2}, "algorithm.srft.sft_entropy_sign", "1 or -1"),
    ("data.label_noise", {"fraction": 1.5}, "data.label_noise.fraction", "less than or equal to 1"),
    ("data.template", "no-such-template", "data.template", "unknown template"),
    ("eval.suite", ["math500", "mathh500"], "eval.suite[1]", "unknown benchmark 'mathh500'"),
    ("eval.suite", [], "eval.suite", "at least 1 item"),
    ("eval.sampling", {"top_p": 0}, "eval.sampling.top_p", "greater than 0"),
    ("resources.queue", "tpu", "resources.queue", "'gpu' or 'cpu'"),
    ("resources", {"queue": "cpu", "gpus": 2}, "resources", "must be 0 on the cpu queue"),
    ("resources", {"queue": "gpu", "gpus": 2, "processes": 3}, "resources", "resources.processes: at most"),
    ("resources.processes", 0, "resources.processes", "greater than or equal to 1"),
    ("sweep", {"train.nope": [1, 2]}, "sweep.train.nope", "train has no field 'nope'"),
    ("sweep", {"train.lr": []}, "sweep.train.lr", "at least one value"),
    ("sweep", {"train.lr": [1e-6, -1]}, "sweep point 1 (train.lr=-1): train.lr", "greater than 0"),
    ("version", 2, "version", "must be 1"),
]


@pytest.mark.parametrize(
    ("path", "value", "error_path", "reason"), MALFORMED, ids=[f"{m[0]}={m[1]!r}"[:60] for m in MALFORMED]
)
def test_malformed_spec_names_the_field(path, value, error_path, reason):
    with pytest.raises(SpecError) as caught:
        validate_spec(spec_with(path, value))
    messages = [str(e) for e in caught.value.errors]
    assert any(e.path == error_path and reason in e.message for e in caught.value.errors), messages


@pytest.mark.parametrize(
    ("resources", "processes"),
    [
        ({"queue": "cpu"}, 1),
        ({"queue": "gpu"}, 1),
        ({"queue": "gpu", "gpus": 4}, 4),
        ({"queue": "cpu", "processes": 2}, 2),
    ],
)
def test_processes_default_to_one_per_gpu(resources, processes):
    assert validate_spec(spec_with("resources", resources)).resources.processes == processes


def test_missing_required_fields_are_named():
    with pytest.raises(SpecError) as caught:
        validate_spec({"name": "x"})
    assert "model: is required" in str(caught.value)


def test_yaml_syntax_error_gives_the_line():
    with pytest.raises(SpecError) as caught:
        parse_spec("name: x\nmodel: {id: a/b\n")
    assert caught.value.errors[0].path.startswith("line ")


def test_a_spec_must_be_a_mapping():
    with pytest.raises(SpecError, match="mapping"):
        parse_spec("- just\n- a list\n")


def test_sweep_expands_to_the_cartesian_product():
    data = spec_with("sweep", {"data.examples": [["pi1"], ["pi2"], ["pi13"]], "train.lr": [1e-6, 1e-5]})
    points = expand_sweep(validate_spec(data))
    assert len(points) == 6
    assert points[0].coordinates == {"data.examples": ["pi1"], "train.lr": 1e-6}
    assert points[5].coordinates == {"data.examples": ["pi13"], "train.lr": 1e-5}
    assert [p.spec.data.examples for p in points] == [["pi1"]] * 2 + [["pi2"]] * 2 + [["pi13"]] * 2
    assert all(p.spec.sweep is None for p in points)


def test_sweep_can_swap_a_whole_block():
    data = spec_with("sweep", {"loss": [{"policy_loss": False, "kl_coef": 0}, {"entropy_coeff": 0}]})
    first, second = expand_sweep(validate_spec(data))
    assert (first.spec.loss.policy_loss, first.spec.loss.kl_coef) == (False, 0)
    assert (second.spec.loss.policy_loss, second.spec.loss.entropy_coeff) == (True, 0)


def test_sweep_into_an_unset_optional_block():
    data = spec_with("sweep", {"data.label_noise.fraction": [0.0, 0.6, 0.9]})
    points = expand_sweep(validate_spec(data))
    assert [p.spec.data.label_noise.fraction for p in points] == [0.0, 0.6, 0.9]


def test_pi_names_are_normalised():
    spec = validate_spec(spec_with("data.examples", ["π13", "PI2", 7, "12"]))
    assert spec.data.examples == ["pi13", "pi2", 7, 12]


def test_content_hash_is_stable_and_sensitive():
    one = validate_spec(BASE)
    assert content_hash(one) == content_hash(validate_spec(yaml.safe_load(yaml.safe_dump(BASE))))
    assert content_hash(one) != content_hash(validate_spec(spec_with("train.lr", 2e-6)))


def test_json_schema_carries_help_text():
    schema = json_schema()
    assert "model" in schema["properties"]
    assert "Learning rate" in schema["$defs"]["TrainSpec"]["properties"]["lr"]["description"]


def test_the_pi1_spec_runs_the_papers_2000_steps_with_fp32_checkpoints():
    """1-shot RLVR (Wang et al. 2025): 2000 steps (π1's best checkpoint at step 1540), evaluation every 20
    steps on the six maths benchmarks, fp32 checkpoints as verl stores them (App. B.6)."""
    spec = parse_spec(next(p for p in EXAMPLES if p.name == "pi1-1shot.yaml").read_text())
    assert (spec.train.steps, spec.eval.every, spec.train.batch_size, spec.train.lr) == (2000, 20, 128, 1e-6)
    assert spec.train.checkpoint_dtype == "float32" and spec.eval.template is None
    assert set(spec.eval.suite) == {"math500", "aime24", "aime25", "amc23", "minerva_math", "olympiadbench"}


def test_each_benchmark_is_prompted_with_its_own_template_unless_one_is_set():
    """An ARC problem in a mixed suite is asked for a letter, not a box (issue: eval.template used to
    override every benchmark's prompt)."""
    from evaluation.runner import setup_for
    from workers.evaluation import eval_config_from_spec

    spec = parse_spec(MINIMAL + "eval: {suite: [math500, arc_challenge]}\n")
    config = eval_config_from_spec(spec)
    assert [setup_for(b, config).template for b in spec.eval.suite] == ["qwen25-math-cot", "mc-cot"]
    templates = "eval: {suite: [math500, arc_challenge], templates: {math500: qwen-boxed}}\n"
    chosen = parse_spec(MINIMAL + templates)
    config = eval_config_from_spec(chosen)
    assert [setup_for(b, config).template for b in chosen.eval.suite] == ["qwen-boxed", "mc-cot"]
    with pytest.raises(SpecError, match=r"eval\.templates\.aime24: 'aime24' is not in eval\.suite"):
        parse_spec(MINIMAL + "eval: {suite: [math500], templates: {aime24: qwen-boxed}}\n")


@pytest.mark.parametrize("field", ["train: {lr: yes}", "train: {steps: true}", "loss: {kl_coef: no}"])
def test_yaml_booleans_are_not_numbers(field):
    with pytest.raises(SpecError, match=r"must be a number, not (True|False)"):
        parse_spec(MINIMAL + field + "\n")
