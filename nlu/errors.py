"""Every exception the library raises on purpose.

Library code raises one of these; only the CLI turns them into a message and an exit code. Each message says
what is wrong and what to do next. The exit code (``exit_code``) tells two kinds apart, as the README's table
lists them:

- **2, a usage error**: the command asked for something that cannot be done as asked: a bad option or argument,
  a recipe that does not validate, a data file, model path or template the user named that is wrong. Fix the
  command or the file and run it again.
- **1, a runtime failure** (:class:`RuntimeFailure`): the command was right but the work failed: a model,
  artifact or checkpoint whose files are damaged or incomplete, an export whose graph disagrees with torch, a
  network or hub failure, a missing optional package, a run directory another run holds.

Ctrl-C ends with 130.
"""

from __future__ import annotations


class NLUError(Exception):
    """Base class: an error whose message is meant for the user, without a traceback. A usage error (exit code
    2) unless the class is also a :class:`RuntimeFailure`."""

    exit_code = 2


class RuntimeFailure(NLUError):
    """Mixed into the errors that are runtime failures (exit code 1), not usage errors."""

    exit_code = 1


class DataError(NLUError):
    """A data file or data set that cannot be read: names the file and, where there is one, the line."""


class DownloadError(DataError, RuntimeFailure):
    """A download that failed on the network or arrived incomplete: running the command again may work."""


class RecipeError(NLUError):
    """A recipe that does not validate. ``problems`` holds one line per problem, all reported at once."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ModelError(NLUError):
    """A path that is not a model directory (or not the kind the command needs), or an unknown architecture."""


class DamagedModel(ModelError, RuntimeFailure):
    """A model directory whose files are damaged or incomplete (truncated weights, a missing tokenizer)."""


class InterruptedRun(NLUError):
    """Training stopped before its end (Ctrl-C); a checkpoint was written and ``nlu train --resume`` continues."""

    exit_code = 130


class ArtifactError(NLUError):
    """A path that is not an artifact directory written by ``nlu export``, or one of an unknown format."""


class DamagedArtifact(ArtifactError, RuntimeFailure):
    """An artifact whose files are damaged, incomplete or were changed after export (a SHA-256 mismatch)."""


class ExportError(NLUError):
    """An export that cannot be done as asked: a destination that holds something else, a bad option."""


class ParityError(ExportError, RuntimeFailure):
    """An export whose ONNX graph disagrees with the torch model: nothing was written."""


class DamagedCheckpoint(RuntimeFailure):
    """A checkpoint ``--resume`` cannot read."""


class HubError(RuntimeFailure):
    """The Hugging Face Hub (or the endpoint given) refused or could not be reached."""


class TemplateError(NLUError):
    """A response-template file that does not validate, or a render that cannot proceed. ``problems`` holds one
    line per problem (file, dotted key, what to write instead), all reported at once."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class RecordError(NLUError):
    """A knowledge-base record a generator cannot describe: not a mapping, an empty value, an unknown slot type."""


DISTRIBUTION = "nlu-toolkit"  # the name on the package index; the import name and the command are ``nlu``

# third-party import name -> the extra of the distribution that installs it
EXTRAS = {
    **dict.fromkeys(
        (
            "torch",
            "transformers",
            "accelerate",
            "datasets",
            "safetensors",
            "seqeval",
            "matplotlib",
            "huggingface_hub",
        ),
        "train",
    ),
    **dict.fromkeys(("onnxruntime", "tokenizers"), "runtime"),
    **dict.fromkeys(("starlette", "uvicorn"), "serve"),
    **dict.fromkeys(("onnx", "onnxscript"), "export"),
    **dict.fromkeys(("gguf", "peft"), "llm"),
    **dict.fromkeys(("sacrebleu", "nltk", "rouge_score"), "generate"),
    **dict.fromkeys(("pytest", "httpx", "hypothesis"), "dev"),
}


class MissingDependency(RuntimeFailure):
    """An optional package that the command needs is not installed; the message names the extra to install. A
    runtime failure: the same command works once the extra is installed."""

    @classmethod
    def from_import_error(cls, error: ModuleNotFoundError, what: str = "this") -> MissingDependency | None:
        """The error for a missing package of one of the extras, or None for any other missing module (a bug,
        not an installation choice)."""
        package = (error.name or "").split(".")[0]
        extra = EXTRAS.get(package)
        if extra is None:
            return None
        hint = ""
        if extra == "train":
            hint = (
                " (install torch first from its CPU or CUDA index: `pip install torch`); or export the model "
                f"to ONNX where training is installed and parse it here with '{DISTRIBUTION}[runtime]'"
            )
        return cls(
            f"{what} needs the package {package!r}, which is not installed: pip install "
            f"'{DISTRIBUTION}[{extra}]'{hint}"
        )
