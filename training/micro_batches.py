"""Splitting a mini-batch into micro-batches: the rows of one forward + backward pass.

Two limits, both optional: `max_rows` rows per micro-batch (`train.micro_batch_size`) and `max_tokens` padded
tokens per micro-batch (`train.max_tokens_per_micro_batch`, dynamic batching as verl's
`ppo_max_token_len_per_gpu`). A micro-batch's padded size is what its forward holds: rows × (longest prompt +
longest response) among its rows, since `RolloutBatch.select` trims the padding no row uses. With a token
budget the rows are taken longest first, so that rows of similar length share a micro-batch (little
padding), and each micro-batch is filled while it fits. Which rows share a micro-batch does not change the
update: every micro-batch's loss is scaled by its share of the mini-batch (training.losses.share).
"""

import torch
from torch import Tensor


def plan_micro_batches(
    rows: Tensor,
    prompt_lengths: Tensor,
    response_lengths: Tensor,
    max_rows: int | None,
    max_tokens: int | None,
) -> list[Tensor]:
    """`rows` (indices of a mini-batch's rows) split into micro-batches; `prompt_lengths` and
    `response_lengths` are indexed by row. Without limits: one micro-batch of all rows (none if no rows).
    A row longer than `max_tokens` on its own is refused (the configs check the longest possible row)."""
    if len(rows) == 0:
        return []
    if max_tokens is None:
        return list(rows.split(max_rows or len(rows)))
    prompts, responses = prompt_lengths[rows].tolist(), response_lengths[rows].tolist()
    order = sorted(range(len(rows)), key=lambda i: prompts[i] + responses[i], reverse=True)
    groups: list[list[int]] = []
    widest_prompt = widest_response = 0
    for i in order:
        prompt, response = max(widest_prompt, prompts[i]), max(widest_response, responses[i])
        full = groups and max_rows is not None and len(groups[-1]) >= max_rows
        if groups and not full and (len(groups[-1]) + 1) * (prompt + response) <= max_tokens:
            groups[-1].append(i)
            widest_prompt, widest_response = prompt, response
            continue
        if prompts[i] + responses[i] > max_tokens:
            raise ValueError(
                f"a row of {prompts[i] + responses[i]} tokens exceeds max_tokens_per_micro_batch={max_tokens}"
            )
        groups.append([i])
        widest_prompt, widest_response = prompts[i], responses[i]
    return [rows[torch.tensor(group, device=rows.device)] for group in groups]
