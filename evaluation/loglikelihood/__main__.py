"""Score multiple-choice requests with one scorer in this interpreter and write the scores as JSON; this is
how code in .venv drives vLLM, which lives in its own venv on CPU (scripts/vllm_env.sh):

    .venv-vllm/bin/python -m evaluation.loglikelihood --backend vllm --model DIR --requests in.json \\
        --out out.json [--dtype float32]

in.json: [{"context": str, "continuations": [str, ...]}, ...]; out.json: one list per request of
{"logprob", "is_greedy", "n_tokens"} per continuation. Spawn-safe like `python -m evaluation.generation`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from evaluation.generation.base import DTYPES, backend_names, create_backend
from evaluation.loglikelihood.backends import scorer_for
from evaluation.loglikelihood.requests import ChoiceRequest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.loglikelihood", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--backend", required=True, choices=backend_names())
    parser.add_argument("--model", required=True, help="model ref: hub id, directory, .gguf or embedded name")
    parser.add_argument("--dtype", default="auto", choices=DTYPES)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    from transformers import AutoTokenizer

    from evaluation.generation.models import pretrained_path

    requests = [
        ChoiceRequest(r["context"], tuple(r["continuations"])) for r in json.loads(args.requests.read_text())
    ]
    backend = create_backend(args.backend, args.model, args.dtype)
    tokenizer = AutoTokenizer.from_pretrained(pretrained_path(args.model))
    scores = scorer_for(backend, tokenizer).score(requests)
    args.out.write_text(json.dumps([[dataclasses.asdict(s) for s in group] for group in scores]))


if __name__ == "__main__":
    main()
