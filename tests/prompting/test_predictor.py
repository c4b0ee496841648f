"""The prompt predictor: scored intents never fail to parse, generated choices and slot replies are read back
into the same Prediction as other models, and failures and hallucinations are counted, never raised."""

from __future__ import annotations

from nlu.data.example import Example
from nlu.prompting.backends import Completion
from nlu.prompting.predictor import PromptPredictor

INTENTS = {"play_music": "play a song or music by an artist", "get_weather": "ask for the weather forecast"}
SLOTS = {"artist": "the name of a singer or a band", "city": "the name of a city"}


class GenerateOnly:
    """A fake backend that can only generate (like an HTTP endpoint): replies come from a script."""

    name = "scripted"

    def __init__(self, replies: dict[str, str | None]):
        self.replies = replies

    def complete(self, prompts, *, max_tokens=64, stop=None, system=None) -> list[Completion]:
        out = []
        for prompt in prompts:
            utterance = prompt.rsplit("Utterance:", 1)[1].split("\n")[0].strip()
            kind = "choice" if "option number" in prompt.lower() else "slots"
            out.append(Completion(text=self.replies.get(f"{kind}:{utterance}")))
        return out


class Scripted(GenerateOnly):
    """A fake local backend: it also scores, preferring the weather option exactly when the utterance says rain."""

    def score(self, prompt: str, options: list[str]) -> list[float]:
        utterance = prompt.rsplit("Utterance:", 1)[1]
        return [1.0 if ("rain" in utterance) == ("weather" in option) else -1.0 for option in options]


def test_scored_intent_and_slots_become_a_prediction():
    backend = Scripted(
        {"slots:play queen please": "artist: queen", "slots:will it rain in paris": "city: Paris"}
    )
    predictor = PromptPredictor(backend, INTENTS, SLOTS)
    music, weather = predictor.predict(["play queen please", "will it rain in paris"])
    assert music.intent == "play_music" and music.tags == ["O", "B-artist", "O"]
    assert [(e.entity, e.value, e.start, e.end) for e in music.entities] == [("artist", "queen", 5, 10)]
    assert weather.intent == "get_weather" and weather.tags[-1] == "B-city"
    assert predictor.stats.intent_parse_failures == 0 and predictor.stats.slot_parse_failures == 0


def test_hallucinated_values_are_dropped_and_counted():
    backend = Scripted({"slots:play queen": "artist: queen\ncity: london"})
    predictor = PromptPredictor(backend, INTENTS, SLOTS)
    (prediction,) = predictor.predict(["play queen"])
    assert prediction.tags == ["O", "B-artist"]
    stats = predictor.stats.to_dict()
    assert (
        stats["values_proposed"] == 2
        and stats["values_hallucinated"] == 1
        and stats["hallucination_rate"] == 0.5
    )


def test_generate_only_backends_choose_by_number_and_count_unreadable_replies():
    backend = GenerateOnly({"choice:play queen": "Answer: 1", "choice:will it rain": "I am not sure"})
    predictor = PromptPredictor(backend, INTENTS, SLOTS)
    first, second = predictor.predict(["play queen", "will it rain"])
    assert first.intent == "play_music" and second.intent == "play_music"  # the fallback: the first option
    assert predictor.stats.intent_parse_failures == 1
    assert predictor.stats.slot_parse_failures == 2  # no slot reply at all (text None) for either
    assert predictor.stats.to_dict()["parse_failure_rate"] == 0.75


def test_demonstrations_come_from_the_retriever():
    class Retriever:
        def nearest(self, text, k):
            return [Example("d1", ["play", "abba"], ["O", "B-artist"], "play_music")][:k]

    seen = []

    class Recording(Scripted):
        def complete(self, prompts, **kwargs):
            seen.extend(prompts)
            return super().complete(prompts, **kwargs)

    predictor = PromptPredictor(Recording({}), INTENTS, SLOTS, retriever=Retriever(), shots=1)
    predictor.predict(["play queen"])
    assert "play abba" in seen[0] and "artist: abba" in seen[0]


def test_empty_input_never_reaches_the_backend():
    predictor = PromptPredictor(Scripted({}), INTENTS, SLOTS)
    (empty,) = predictor.predict([""])
    assert empty.intent is None and predictor.stats.utterances == 0


def test_slot_prompt_lists_only_the_predicted_intents_slot_types():
    seen = []

    class Recording(Scripted):
        def complete(self, prompts, **kwargs):
            seen.extend(prompts)
            return super().complete(prompts, **kwargs)

    by_intent = {"play_music": ["artist"], "get_weather": ["city"]}
    predictor = PromptPredictor(Recording({}), INTENTS, SLOTS, slot_types_by_intent=by_intent)
    predictor.predict(["will it rain"])
    assert "- city:" in seen[0] and "- artist:" not in seen[0]


class Biased(GenerateOnly):
    """A fake local backend that prefers the music option for any utterance; rain raises the weather option's
    score and lowers the music option's, "play" raises the music option's."""

    def __init__(self):
        super().__init__({})
        self.scored: list[str] = []

    def score(self, prompt: str, options: list[str]) -> list[float]:
        utterance = prompt.rsplit("Utterance:", 1)[1]
        self.scored.append(utterance.split("\n")[0].strip())
        rain, play = "rain" in utterance, "play" in utterance
        music = 2.0 if rain else 2.6 if play else 2.5
        return [(1.0 if rain else 0.0) if "weather" in option else music for option in options]


def test_calibration_removes_an_options_bias_towards_every_utterance():
    """Uncalibrated, the music option wins everything. Against the content-free utterance N/A (0 for weather,
    2.5 for music), a rain question gains 1 on weather and loses 0.5 on music, so it becomes weather, and "play
    queen" gains 0.1 on music. The N/A prompt is scored once for all zero-shot utterances."""
    texts = ["will it rain in paris", "play queen", "is rain coming"]
    plain = PromptPredictor(Biased(), INTENTS, SLOTS)
    assert [p.intent for p in plain.predict(texts)] == ["play_music"] * 3
    backend = Biased()
    calibrated = PromptPredictor(backend, INTENTS, SLOTS, calibrate=True)
    assert [p.intent for p in calibrated.predict(texts)] == ["get_weather", "play_music", "get_weather"]
    assert backend.scored.count("N/A") == 1
