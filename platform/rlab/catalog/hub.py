"""Importing a Hugging Face hub dataset into the catalog, with a plain error when the hub is unreachable."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.db import transaction

from rlab.catalog.importing import LIMITS, FieldMapping, ImportFailed, RowError, import_dataset
from rlab.catalog.models import Dataset

HUB_TIMEOUT_SECONDS = 8.0


class HubUnavailable(RuntimeError):
    """The dataset cannot be fetched: no network, offline mode, no such dataset or split."""


def _check_reachable(hub_id: str) -> None:
    """Ask the hub about the dataset with a short timeout; `load_dataset` alone retries for half a minute."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        HfApi().dataset_info(hub_id, timeout=HUB_TIMEOUT_SECONDS)
    except RepositoryNotFoundError:
        raise HubUnavailable(
            f"there is no dataset {hub_id!r} on the Hugging Face hub (or it is private)"
        ) from None
    except Exception as error:  # DNS, refused connections, timeouts: the transport's own error classes vary
        raise HubUnavailable(
            f"the Hugging Face hub cannot be reached ({error}). Download the data elsewhere and upload it."
        ) from None


def dataset_source(hub_id: str) -> str:
    """What `load_dataset` is given for `hub_id`: a folder of that name under RLAB_IMPORT_ROOT if there is
    one, else the hub id. `load_dataset` reads any folder the id names relative to the server's working
    directory (`var/artifacts`…), so an id naming such a folder is refused."""
    root = settings.RLAB_IMPORT_ROOT
    if root is not None:
        local = (root / hub_id).resolve()
        if local.is_relative_to(root) and local.exists():
            return str(local)
    if Path(hub_id).exists() or Path(hub_id).is_symlink():
        raise HubUnavailable(
            f"{hub_id!r} names a folder on the server, not a hub dataset; folders are imported only from "
            "under the import root (RLAB_IMPORT_ROOT)"
        )
    return hub_id


def hub_rows(hub_id: str, config: str, split: str) -> list[dict]:
    """The split's rows; in offline mode (HF_HUB_OFFLINE=1) only a locally cached copy can be used."""
    from datasets import config as datasets_config
    from datasets import load_dataset

    source = dataset_source(hub_id)
    if source == hub_id and not datasets_config.HF_HUB_OFFLINE:
        _check_reachable(hub_id)
    try:
        rows = load_dataset(source, config or None, split=split)
    except (
        Exception
    ) as error:  # datasets raises ConnectionError, FileNotFoundError, ValueError (bad split), …
        why = "HF_HUB_OFFLINE is set and there is no cached copy" if datasets_config.HF_HUB_OFFLINE else error
        raise HubUnavailable(f"cannot load {hub_id!r} split {split!r}: {why}") from None
    if len(rows) > LIMITS.max_rows:
        too_many = f"{len(rows)} rows; at most {LIMITS.max_rows} can be imported"
        raise ImportFailed(f"{hub_id} ({split})", [RowError(0, too_many)])
    return list(rows)


@transaction.atomic
def import_hub_dataset(
    *, team, user, name: str, hub_id: str, config: str, split: str, mapping: FieldMapping
) -> Dataset:
    """Fetch the split and import it all or nothing (raises HubUnavailable or ImportFailed)."""
    rows = hub_rows(hub_id, config, split)
    data = "".join(json.dumps(row, default=str) + "\n" for row in rows).encode()
    filename = f"{hub_id.replace('/', '__')}.jsonl"
    dataset = import_dataset(team=team, name=name, filename=filename, data=data, mapping=mapping, user=user)
    dataset.source = f"hub:{hub_id}" + (f":{config}" if config else "") + f"@{split}"
    dataset.save(update_fields=["source"])
    return dataset
