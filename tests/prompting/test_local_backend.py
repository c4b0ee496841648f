"""The local transformers backend on a tiny random causal LM built in code: likelihood scoring (what makes intent
prediction always parse) and greedy generation with stop strings and a chat template."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from nlu_testing import build_tiny_causal_lm

from nlu.prompting.local_backend import TransformersBackend, packaged_llm


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


def test_scores_are_mean_log_probabilities_of_the_continuation(tiny_lm):
    backend = TransformersBackend(tiny_lm)
    prompt, options = "the intent is", ["play some jazz music", "book a table", "weather"]
    scores = backend.score(prompt, options)
    for option, score in zip(options, scores, strict=True):  # by hand, one sequence at a time, no padding
        context = backend.tokenizer(prompt)["input_ids"]
        cont = backend.tokenizer(" " + option, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = backend.model(torch.tensor([context + cont])).logits[0].log_softmax(-1)
        expected = torch.stack([logits[len(context) - 1 + i, t] for i, t in enumerate(cont)]).mean()
        assert score == pytest.approx(float(expected), abs=1e-4)
    assert backend.score(prompt, options[::-1]) == pytest.approx(scores[::-1], abs=1e-4)  # order-independent


def test_generation_is_greedy_stops_and_reports_time(tiny_lm):
    backend = TransformersBackend(tiny_lm)
    first, second = backend.complete(["play some", "play some"], max_tokens=5)
    assert first.ok and first.text == second.text and first.seconds > 0
    assert first.text.strip(), "the tiny model generates words from its vocabulary"
    marker = first.text.split()[-1]
    (stopped,) = backend.complete(["play some"], max_tokens=5, stop=[marker])
    assert stopped.text == first.text.split(marker, 1)[0]


def test_chat_template_is_applied_when_the_tokenizer_has_one(tiny_lm):
    backend = TransformersBackend(tiny_lm)
    plain = backend._prompt_ids("play some jazz", None)
    backend.tokenizer.chat_template = "{% for m in messages %}<s> {{ m['content'] }} </s>{% endfor %}"
    templated = backend._prompt_ids("play some jazz", "choose one of")
    assert templated != plain and templated.count(backend.tokenizer.convert_tokens_to_ids("<s>")) == 2


def test_packaged_model_is_found_without_importing_its_package():
    pytest.importorskip("gguf")
    try:
        folder, filename = packaged_llm("smollm2")
    except Exception as err:  # the package is optional
        pytest.skip(str(err))
    assert (Path(folder) / filename).is_file() and filename.endswith(".gguf")


def test_generation_ends_at_the_stop_string_not_at_max_tokens(tiny_lm):
    from nlu.prompting.local_backend import _StopOnText

    backend = TransformersBackend(tiny_lm)
    (long,) = backend.complete(["play some"], max_tokens=12)
    words = long.text.split()
    criterion = _StopOnText(backend.tokenizer, 0, [words[1]])
    first_two = torch.tensor([backend.tokenizer(" ".join(words[:2]), add_special_tokens=False)["input_ids"]])
    first_one = torch.tensor([backend.tokenizer(words[0], add_special_tokens=False)["input_ids"]])
    assert criterion(first_two, None).tolist() == [True]
    assert criterion(first_one, None).tolist() == [words[1] in words[0]]


def test_line_grammar():
    from nlu.prompting.local_backend import _LineGrammar

    g = _LineGrammar(["city: new york", "city: new", "date: today", "none"])
    assert g.accepts("") and g.accepts("ci") and g.accepts("city: new")
    assert g.accepts("city: new york\ndate: to")
    assert not g.accepts("city: boston")
    assert not g.accepts("city: new york\ncity: new york\n")  # a line once only
    assert g.accepts("city: new york\n\n") and g.finished("city: new york\n\n")
    assert not g.accepts("\n")  # no empty reply
    spans = _LineGrammar({"city: new york": {1, 2}, "city: new": {1}, "date: today": {3}, "none": {1, 2, 3}})
    assert spans.accepts("city: new york\ndate: to") and not spans.accepts("city: new york\ncity: new")
    assert not spans.accepts("none\nd") and spans.can_end("none") and not spans.can_continue("none\n")
    assert spans.complete_part("city: new york\nci") == "city: new york"  # no open line begins "ci"
    assert g.can_end("city: new") and g.can_end("none\n") and not g.can_end("ci") and not g.can_end("")
    assert g.complete_part("city: new york\ndate: to") == "city: new york\ndate: today"  # finished
    assert g.complete_part("city: new y") == "city: new york"
    assert g.complete_part("ci") == "city: new"  # the shortest line it begins
    assert g.complete_part("") == "none"


def test_constrained_replies_are_always_allowed_lines(tiny_lm):
    backend = TransformersBackend(tiny_lm)
    allowed = ["genre: jazz", "service: spotify", "genre: jazz music", "none"]
    for prompt in ("play some jazz on spotify", "Slots:", "hello"):
        reply = backend.complete_lines(prompt, allowed, max_tokens=20)
        lines = reply.text.split("\n") if reply.text else []
        assert all(line in allowed for line in lines), reply.text
        assert len(lines) == len(set(lines))


def test_a_local_model_never_fails_to_parse_and_never_hallucinates(tiny_lm):
    from nlu.prompting.predictor import PromptPredictor, allowed_slot_lines

    assert allowed_slot_lines(["a", "b"], ["x"]) == {
        "x: a": range(0, 1),
        "x: a b": range(0, 2),
        "x: b": range(1, 2),
        "none": range(0, 2),
    }
    predictor = PromptPredictor(
        TransformersBackend(tiny_lm),
        {"play_music": "play a song", "get_weather": "ask for the weather"},
        {"artist": "a singer", "city": "a city"},
        max_slot_tokens=16,
    )
    texts = ["play some jazz by miles davis", "will it rain in paris", "weather", "x y z"]
    predictions = predictor.predict(texts)
    stats = predictor.stats.to_dict()
    assert stats["parse_failure_rate"] == 0.0 and stats["hallucination_rate"] == 0.0
    for text, p in zip(texts, predictions, strict=True):
        assert all(text[e.start : e.end] == e.value for e in p.entities)


def test_the_grammar_allows_only_spans_the_parser_reads_back():
    from nlu.prompting.predictor import allowed_slot_lines

    lines = allowed_slot_lines(["rock", "&", "roll", "nothing"], ["genre"])
    assert "genre: rock & roll" in lines
    assert "genre: &" not in lines and "genre: nothing" not in lines


def test_prompts_sharing_a_prefix_reuse_its_cache_and_give_the_same_answers(tiny_lm):
    """The instruction and options are the same for every utterance: with the prefix cache only the new tokens
    are read, and the scores and constrained replies are those of reading every prompt whole."""
    whole, reused = TransformersBackend(tiny_lm, prefix_cache_size=0), TransformersBackend(tiny_lm)
    read = []
    forward = reused.model.forward

    def counting(*args, **kwargs):
        read.append(kwargs["input_ids"].shape[1])
        return forward(*args, **kwargs)

    reused.model.forward = counting
    head = "choose the intent play some jazz music book a table weather the intent is"
    prompts = [f"{head} play jazz", f"{head} book a table", f"{head} play jazz", "weather"]
    options = ["play some jazz music", "book a table"]
    allowed = ["genre: jazz", "genre: jazz music", "none"]
    for prompt in prompts:
        assert reused.score(prompt, options) == pytest.approx(whole.score(prompt, options), abs=1e-4)
        assert reused.complete_lines(prompt, allowed).text == whole.complete_lines(prompt, allowed).text
    prompt_reads = [n for n in read if n > 2]  # prefills; options and generated tokens are 1-2 tokens here
    head_length = len(reused._prompt_ids(head, None))
    assert prompt_reads[0] > head_length  # the first prompt is read whole
    assert all(n < head_length for n in prompt_reads[1:])  # later ones only past the shared head
