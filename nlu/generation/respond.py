"""Reply to a recommendation dialogue with a trained NTRD model: ``Recommender.load(dir).respond(dialogues)``,
and the ReDial evaluation (BLEU-2/4, Distinct-2/3/4, item ratio, Recall@k of the item selector)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from nlu.errors import ModelError
from nlu.generation.dialogues import ITEM, Dialogue, ReplyInstance, Turn, reply_instances
from nlu.generation.metrics import bleu, distinct
from nlu.generation.ntrd import NTRDForTemplateFilling
from nlu.generation.ntrd.features import collate, encode_reply
from nlu.generation.records import Vocab, detokenize


@dataclass
class Reply:
    template: str  # with __item__ placeholders
    items: list[str]  # "@id" per placeholder
    text: str  # placeholders filled with the movies' titles
    words: list[str]  # the template's words, as the model wrote them

    def to_dict(self) -> dict:
        return {"text": self.text, "template": self.template, "items": self.items}


class Recommender:
    """A trained NTRD model, its vocabulary and its movie catalogue (``items.json``: ``[["@id", title], ...]``)."""

    def __init__(self, model: NTRDForTemplateFilling, vocab: Vocab, items: list[tuple[str, str]]):
        self.model = model.eval()
        self.vocab = vocab
        self.items = items  # index k+1 of the model's catalogue is items[k]
        self.item_index = {item_id: k + 1 for k, (item_id, _) in enumerate(items)}

    @classmethod
    def load(cls, folder: str | Path) -> Recommender:
        folder = Path(folder)
        if not all((folder / f).is_file() for f in ("config.json", "vocab.json", "items.json")):
            raise ModelError(
                f"{folder}: not a template-filling recommender (expected config.json, vocab.json and items.json, "
                "as `nlu train recipes/redial/ntrd.yaml` writes under best/)"
            )
        items = [tuple(x) for x in json.loads((folder / "items.json").read_text(encoding="utf-8"))]
        return cls(NTRDForTemplateFilling.from_pretrained(folder), Vocab.load(folder), items)

    def save(self, folder: Path) -> None:
        self.model.save_pretrained(folder, safe_serialization=True)
        self.vocab.save(folder)
        (folder / "items.json").write_text(json.dumps(self.items, ensure_ascii=False), encoding="utf-8")

    def _encode(self, instances: Sequence[ReplyInstance]):
        c = self.model.config
        return [
            encode_reply(i, self.vocab, self.item_index, c.max_context_length, c.max_reply_length)
            for i in instances
        ]

    def reply(self, instances: Sequence[ReplyInstance], batch_size: int = 32) -> list[Reply]:
        """The next recommender turn for each instance's context (its own template and items are ignored)."""
        out = []
        for start in range(0, len(instances), batch_size):
            batch = collate(
                self._encode(instances[start : start + batch_size]), self.model.config.item_token_id, False
            )
            for word_ids, chosen in self.model.generate(**batch):
                words = [self.vocab.words[w] for w in word_ids]
                ids = [self.items[k - 1][0] for k in chosen]
                titles = iter(self.items[k - 1][1] for k in chosen)
                filled = [next(titles, w) if w == ITEM else w for w in words]
                out.append(Reply(detokenize(words), ids, detokenize(filled), words))
        return out

    def respond(self, dialogues: Sequence[Dialogue]) -> list[Reply]:
        """The recommender's next turn after the last turn of each dialogue."""
        instances = []
        for d in dialogues:
            # the reply to predict comes after every turn: add an empty recommender turn and take its instance
            extra = Dialogue(d.id, [*d.turns, Turn("recommender", "")], d.titles)
            found = [i for i in reply_instances([extra]) if i.dialogue_id == d.id]
            instances.append(found[-1] if found else ReplyInstance(d.id, [], [], [], [], ""))
        return self.reply(instances)

    @torch.no_grad()
    def item_ranks(self, instances: Sequence[ReplyInstance], batch_size: int = 32) -> list[int]:
        """For each gold movie of the replies (in the catalogue), its rank (1 = best) among all catalogue movies
        when the selector fills the gold template's placeholder."""
        ranks: list[int] = []
        for start in range(0, len(instances), batch_size):
            batch = collate(
                self._encode(instances[start : start + batch_size]), self.model.config.item_token_id
            )
            out = self.model(**batch)
            if out.item_scores is None:
                continue
            keep = out.item_targets != -100
            scores, targets = out.item_scores[keep], out.item_targets[keep]
            gold = scores.gather(1, targets.unsqueeze(1))
            ranks.extend((1 + (scores > gold).sum(1)).tolist())
        return ranks


def evaluate_recommender(recommender: Recommender, instances: Sequence[ReplyInstance]) -> dict:
    """ReDial scores as NTRD reports them. BLEU on lower-cased words with movies written as their ``@id`` (a
    generated movie matches the reference only if it is the same movie); Distinct-n over generated replies;
    item ratio = share of generated replies that name at least one movie (references: ``reference_item_ratio``);
    Recall@k over the gold movies of the references that are in the catalogue."""
    replies = recommender.reply(instances)
    hyps, refs = [], []
    for reply, inst in zip(replies, instances, strict=True):
        items = iter(reply.items)
        hyps.append(" ".join(next(items, w) if w == ITEM else w for w in reply.words))
        gold = iter(inst.items)
        refs.append([" ".join(next(gold, w) if w == ITEM else w for w in inst.template)])
    ranks = recommender.item_ranks(instances)
    result = {
        "replies": len(instances),
        "bleu_2": bleu(hyps, refs, max_order=2, tokenize="none"),
        "bleu_4": bleu(hyps, refs, max_order=4, tokenize="none"),
        **{f"distinct_{n}": distinct([r.text for r in replies], n) for n in (2, 3, 4)},
        "item_ratio": 100 * sum(1 for r in replies if r.items) / max(len(replies), 1),
        "reference_item_ratio": 100 * sum(1 for i in instances if i.items) / max(len(instances), 1),
        "gold_items_ranked": len(ranks),
    }
    for k in (1, 10, 50):
        result[f"recall_at_{k}"] = 100 * sum(r <= k for r in ranks) / len(ranks) if ranks else 0.0
    result["samples"] = [
        {"reference": i.reference, "reply": r.text} for i, r in list(zip(instances, replies, strict=True))[:5]
    ]
    return result
