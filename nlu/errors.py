"""Every exception the library raises on purpose.

Library code raises one of these; only the CLI turns them into a message and an exit code. Each message says
what is wrong and what to do next.
"""

from __future__ import annotations


class NLUError(Exception):
    """Base class: an error whose message is meant for the user, without a traceback."""


class DataError(NLUError):
    """A data file or data set that cannot be read: names the file and, where there is one, the line."""


class RecipeError(NLUError):
    """A recipe that does not validate. ``problems`` holds one line per problem, all reported at once."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ModelError(NLUError):
    """A model directory that is missing, incomplete or of an unknown architecture."""


class InterruptedRun(NLUError):
    """Training stopped before its end (Ctrl-C); a checkpoint was written and ``nlu train --resume`` continues."""


class ArtifactError(NLUError):
    """An artifact directory that is missing, incomplete, tampered with or of an unknown format."""


class ExportError(NLUError):
    """An export whose ONNX graph disagrees with the torch model, or that could not be written."""


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
        ("torch", "transformers", "accelerate", "datasets", "safetensors", "seqeval", "matplotlib"), "train"
    ),
    **dict.fromkeys(("onnxruntime", "tokenizers"), "runtime"),
    **dict.fromkeys(("starlette", "uvicorn"), "serve"),
    **dict.fromkeys(("onnx", "onnxscript"), "export"),
    **dict.fromkeys(("gguf", "peft"), "llm"),
    **dict.fromkeys(("sacrebleu", "nltk", "rouge_score"), "generate"),
    **dict.fromkeys(("pytest", "httpx", "hypothesis"), "dev"),
}


class MissingDependency(NLUError):
    """An optional package that the command needs is not installed; the message names the extra to install."""

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
