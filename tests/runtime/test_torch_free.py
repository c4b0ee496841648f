"""``nlu.runtime`` parses in an interpreter that never imports torch or transformers (the point of exporting)."""

from __future__ import annotations

import json
import subprocess
import sys

from nlu.inference import Predictor

SCRIPT = """
import json, sys
from nlu.runtime import Parser

parser = Parser.load(sys.argv[1])
predictions = parser.parse_batch(["turn the bathroom desk lamp off", "", "what's the weather in Paris?"])
heavy = sorted(m for m in ("torch", "transformers") if m in sys.modules)
assert not heavy, f"imported {heavy}"
assert "onnxruntime" in sys.modules
print(json.dumps([p.to_dict() for p in predictions]))
"""


def test_runtime_needs_no_torch(tiny_artifact, tiny_mixed_model_dir):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tiny_artifact(True))], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)
    assert outputs[1]["intent"] == {"name": None, "confidence": 0.0}
    # the fresh interpreter gives the torch model's labels
    expected = Predictor.load(tiny_mixed_model_dir(True)).predict([outputs[0]["text"], outputs[2]["text"]])
    for output, prediction in zip([outputs[0], outputs[2]], expected, strict=True):
        assert output["intent"]["name"] == prediction.intent
        assert [(e["entity"], e["start"], e["end"]) for e in output["entities"]] == [
            (e.entity, e.start, e.end) for e in prediction.entities
        ]


def test_the_light_modules_import_no_torch():
    """The runtime, the parser interface and decoding, the prompts, the recipe schema and the registry are
    what a torch-free install (or `nlu validate`) imports: none of them may pull torch or transformers in."""
    code = (
        "import sys\n"
        "import nlu.runtime, nlu.parser, nlu.decoding, nlu.prediction, nlu.prompting.prompts\n"
        "import nlu.model_dirs, nlu.models, nlu.models.registry, nlu.training.recipe, nlu.data.label_files\n"
        "nlu.models.registry.architectures()\n"
        "print(sorted(m for m in ('torch', 'transformers', 'accelerate') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
