"""Models: one folder per architecture (``nlu/models/<name>/``, declared in ``nlu.models.registry``), the
options they share (``nlu.models.options``), and the functions that build, load and describe them
(``nlu.models.building``, imported when first used so that ``import nlu.models`` loads no torch)::

    from nlu.models import build_model, load_model
    model = build_model("jointbert", backbone="minilm", labels=vocab, use_crf=True)
    model = load_model("runs/atis/best")
"""

from __future__ import annotations

from nlu.models.registry import lazy_attributes

_LAZY = {
    name: "building"
    for name in (
        "build_model",
        "save_model",
        "load_model",
        "load_tokenizer",
        "load_gazetteer",
        "model_input_names",
        "apply_label_file",
        "select_task",
    )
}
__all__ = list(_LAZY)

__getattr__ = lazy_attributes(__name__, _LAZY)
