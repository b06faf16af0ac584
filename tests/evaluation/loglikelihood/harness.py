"""lm-evaluation-harness's own ARC task run on our local files, for the parity test and the bench: the
harness builds its requests from its arc_easy/arc_challenge configs (dataset pointed at our JSONL copy, as
it cannot download here), scores them with the given HFLM and grades them with its own process_results.
The chosen options are numpy.argmax of its log-likelihoods, raw and per character, as process_results
computes them."""

import importlib.resources

import numpy as np
import yaml
from lm_eval.api.task import ConfigurableTask


def harness_task_results(harness_model, task_name: str, data_file: str, limit: int | None) -> list[dict]:
    """The harness's own task on our local file: per question its id, option log-likelihoods and metrics."""
    config = yaml.safe_load(
        (importlib.resources.files("lm_eval") / f"tasks/arc/{task_name}.yaml").read_text()
    )
    if "include" in config:  # arc_challenge.yaml includes arc_easy.yaml and overrides the task name
        base = yaml.safe_load((importlib.resources.files("lm_eval") / "tasks/arc/arc_easy.yaml").read_text())
        config = {**base, **{k: v for k, v in config.items() if k != "include"}}
    config.pop("tag", None)
    config.update(
        dataset_path="json",
        dataset_name=None,
        dataset_kwargs={"data_files": {"test": data_file}},
        training_split=None,
        validation_split=None,
    )
    task = ConfigurableTask(config=config)
    task.build_all_requests(limit=limit, rank=0, world_size=1)
    instances = task.instances
    responses = harness_model.loglikelihood(instances, disable_tqdm=True)
    by_doc: dict[int, list] = {}
    for instance, response in zip(instances, responses, strict=True):
        by_doc.setdefault(instance.doc_id, []).append((instance.idx, instance.doc, response))
    results = []
    for doc_id in sorted(by_doc):
        options = sorted(by_doc[doc_id], key=lambda entry: entry[0])
        doc = options[0][1]
        metrics = task.process_results(doc, [response for _, _, response in options])
        logprobs = np.array([response[0] for _, _, response in options])
        lengths = np.array([float(len(choice)) for choice in task.doc_to_choice(doc)])
        results.append(
            {
                "id": doc["id"],
                "logprobs": logprobs.tolist(),
                "pred": int(np.argmax(logprobs)),
                "pred_norm": int(np.argmax(logprobs / lengths)),
                **metrics,
            }
        )
    return results
