"""``nlu push``: a trained model directory or an exported artifact onto the Hugging Face Hub, with
huggingface_hub's upload API (``HfApi.create_repo`` and ``HfApi.upload_folder``).

Every file of the directory goes up as it is: the weights, tokenizer, labels, ``config.json`` (with ``auto_map``
and ``id2label``) and the model card ``README.md`` of a trained model; ``model.onnx``, ``nlu.json`` and the card of
an artifact. ``endpoint`` points at another Hub (a mirror, an enterprise Hub, the tests' loopback server); the
default is huggingface_hub's (``$HF_ENDPOINT``, else https://huggingface.co). The token is huggingface_hub's
too (``hf auth login`` or ``$HF_TOKEN``) unless one is given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from nlu.errors import HubError
from nlu.model_card import CARD_FILE

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushResult:
    repo_url: str
    commit_url: str
    files: list[str]


def push_to_hub(
    model_dir: str | Path,
    repo_id: str,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
) -> PushResult:
    """Create ``repo_id`` (a model repository; kept if it exists) and upload every file of ``model_dir`` (a
    trained model, a run directory's best model, an artifact or a prompted LLM) in one commit. Raises
    :class:`HubError` when the Hub refuses or cannot be reached."""
    from nlu.model_dirs import resolve_model_dir

    folder = resolve_model_dir(model_dir).path
    if "/" not in repo_id.strip("/"):
        logger.info("%s: no namespace; the Hub puts it under the token's user", repo_id)
    if not (folder / CARD_FILE).is_file():
        logger.warning(
            "%s has no model card (%s): train or export it again with this version of nlu to get one",
            folder,
            CARD_FILE,
        )
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    where = endpoint or "the Hugging Face Hub"
    _refuse_offline_mode(repo_id, where)
    try:
        from huggingface_hub import HfApi

        api = HfApi(endpoint=endpoint, token=token)
        repo_url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            repo_type="model",
            revision=revision,
            commit_message=commit_message or f"Upload {folder.name} with nlu push",
        )
    except ModuleNotFoundError:
        raise
    except Exception as err:  # huggingface_hub raises HTTP, network and validation errors of several types
        raise HubError(f"push to {repo_id} on {where} failed: {err}") from None
    return PushResult(str(repo_url), str(commit.commit_url), files)


def _refuse_offline_mode(repo_id: str, where: str) -> None:
    """huggingface_hub's offline mode (``$HF_HUB_OFFLINE`` or ``$TRANSFORMERS_OFFLINE``) blocks every request; say
    so, and how to lift it for this one command, before any request is made."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        raise HubError(
            f"push to {repo_id} on {where} needs the network, but huggingface_hub's offline mode is on "
            "($HF_HUB_OFFLINE or $TRANSFORMERS_OFFLINE is set): run it as `HF_HUB_OFFLINE=0 nlu push ...`"
        )
