"""The registered benchmarks. Defaults follow the 1-shot RLVR paper's evaluation: AIME24/25 and AMC23
are sampled 8 times at temperature 0.6 (avg@8), everything else once, greedily; 3,072 new tokens."""

from evaluation.benchmarks.arith import generate_arith
from evaluation.benchmarks.spec import BenchmarkSpec, HubSource, RowMapping, Sampling, register
from evaluation.benchmarks.transforms import arc_choices, gpqa_shuffle, minerva_gold, mmlu_pro_choices

AVG_AT_8 = Sampling(temperature=0.6)
# Log-likelihood formulations (evaluation.loglikelihood.formulations): ARC is scored as lm-evaluation-harness
# does (cloze, acc_norm) by default, or by option letter; GPQA and MMLU-Pro by option letter.
ARC_FORMULATIONS = ("ll-cloze", "ll-mcf")
LETTERED = ("ll-mcf",)

register(
    BenchmarkSpec(
        id="math500",
        description="MATH500: the 500-problem MATH test subset of 'Let's Verify Step by Step'",
        mapping=RowMapping(
            problem="problem", answer="answer", id="unique_id", subject="subject", level="level"
        ),
        grader="math",
        default_template="qwen25-math-cot",
        local_stem="benchmarks/math500/test",
        hub=HubSource("HuggingFaceH4/MATH-500", split="test"),
    )
)

register(
    BenchmarkSpec(
        id="aime24",
        description="AIME 2024 I and II (30 problems, integer answers)",
        mapping=RowMapping(problem="problem", answer="answer", id="id", metadata=("url",)),
        grader="math",
        default_template="qwen25-math-cot",
        local_stem="benchmarks/aime24/test",
        hub=HubSource("HuggingFaceH4/aime_2024", split="train"),
        repeats=8,
        sampling=AVG_AT_8,
    )
)

register(
    BenchmarkSpec(
        id="aime25",
        description="AIME 2025 I and II (30 problems, integer answers)",
        mapping=RowMapping(problem="problem", answer="answer", id="id", metadata=("url",)),
        grader="math",
        default_template="qwen25-math-cot",
        local_stem="benchmarks/aime25/test",
        hub=HubSource("yentinglin/aime_2025", split="train"),
        repeats=8,
        sampling=AVG_AT_8,
    )
)

register(
    BenchmarkSpec(
        id="amc23",
        description="AMC 12 2023 rewritten as 40 free-answer problems; answers are floats such as 27.0",
        mapping=RowMapping(problem="question", answer="answer", id="id", metadata=("url",)),
        grader="math",
        default_template="qwen25-math-cot",
        local_stem="benchmarks/amc23/test",
        hub=HubSource("math-ai/amc23", split="test"),
        repeats=8,
        sampling=AVG_AT_8,
    )
)

register(
    BenchmarkSpec(
        id="minerva_math",
        description="Minerva's 272 MIT OpenCourseWare problems; gold = last \\boxed{} of the solution",
        mapping=RowMapping(
            problem="problem", answer="gold", id="idx", subject="type", transform=minerva_gold
        ),
        grader="math",
        default_template="qwen25-math-cot",
        local_stem="benchmarks/minerva_math/test",
        hub=HubSource(
            "math-ai/minervamath", split="test", mapping=RowMapping(problem="question", answer="answer")
        ),
    )
)

register(
    BenchmarkSpec(
        id="olympiadbench",
        description="OlympiadBench OE_TO_maths_en_COMP (675 open-ended competition problems, English)",
        mapping=RowMapping(
            problem="question",
            answer="final_answer",
            id="id",
            subject="subfield",
            metadata=("is_multiple_answer", "unit", "answer_type"),
        ),
        grader="math",
        default_template="qwen25-math-cot",
        local_stem="benchmarks/olympiadbench/test",
        hub=HubSource("Hothan/OlympiadBench", config="OE_TO_maths_en_COMP", split="train"),
    )
)

_ARC_MAPPING = RowMapping(
    problem="question", answer="gold", id="id", choices="options", metadata=("labels",), transform=arc_choices
)

register(
    BenchmarkSpec(
        id="arc_challenge",
        description="AI2 Reasoning Challenge, Challenge set (1,172 test questions, 3-5 options)",
        mapping=_ARC_MAPPING,
        grader="choice",
        default_template="mc-cot",
        local_stem="benchmarks/arc_challenge/test",
        hub=HubSource("allenai/ai2_arc", config="ARC-Challenge", split="test"),
        formulations=ARC_FORMULATIONS,
    )
)

register(
    BenchmarkSpec(
        id="arc_easy",
        description="AI2 Reasoning Challenge, Easy set (2,376 test questions, 3-5 options)",
        mapping=_ARC_MAPPING,
        grader="choice",
        default_template="mc-cot",
        local_stem="benchmarks/arc_easy/test",
        hub=HubSource("allenai/ai2_arc", config="ARC-Easy", split="test"),
        formulations=ARC_FORMULATIONS,
    )
)

register(
    BenchmarkSpec(
        id="gpqa_diamond",
        description="GPQA Diamond (198 graduate-level science questions; gated, read from the hub)",
        mapping=RowMapping(
            problem="question_text",
            answer="gold",
            id="Record ID",
            choices="shuffled_options",
            subject="High-level domain",
            metadata=("Subdomain", "shuffle_seed"),
            transform=gpqa_shuffle,
        ),
        grader="choice",
        default_template="mc-cot",
        local_stem="benchmarks/gpqa_diamond/test",
        hub=HubSource("Idavidrein/gpqa", config="gpqa_diamond", split="train"),
        formulations=LETTERED,
    )
)

register(
    BenchmarkSpec(
        id="mmlu_pro",
        description="MMLU-Pro test split (12,032 questions, up to 10 options, 14 categories)",
        mapping=RowMapping(
            problem="question",
            answer="gold",
            id="question_id",
            choices="kept_options",
            subject="category",
            metadata=("src",),
            transform=mmlu_pro_choices,
        ),
        grader="choice",
        default_template="mc-cot",
        local_stem="benchmarks/mmlu_pro/test",
        # The data has been revised several times; this is the revision lighteval pins.
        hub=HubSource(
            "TIGER-Lab/MMLU-Pro", split="test", revision="3373e0b32277875b8db2aa555a333b78a08477ea"
        ),
        formulations=LETTERED,
    )
)

register(
    BenchmarkSpec(
        id="arith",
        description="Generated arithmetic and algebra: 500 problems, 5 levels, integer answers (offline)",
        mapping=RowMapping(
            problem="problem",
            answer="answer",
            id="id",
            subject="subject",
            level="level",
            metadata=("solution",),
        ),
        grader="math",
        default_template="one-shot-boxed",
        generate=generate_arith,
    )
)
