"""Text to model inputs: the Hugging Face tokenizer of a model folder, and the byte n-gram featurizer of the language
identifier (the DFA of py3langid, stored as arrays next to its ONNX graph). Both pad to the longest text of a batch;
the tokenizer also gives each text's inputs on their own (for models run one text at a time).
"""

from __future__ import annotations

import math
import unicodedata
from array import array
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Encoding, Tokenizer

Inputs = dict[str, np.ndarray]


class TokenizerFeaturizer:
    """`tokenizer.json` of a model folder, truncating to max_length and padding to the longest text in the batch.

    Safe to call from several worker threads at once: each configuration (single texts, pairs) has its own
    tokenizer, set up once, so no call changes what another call is reading."""

    def __init__(self, folder: Path, max_length: int, input_names: Sequence[str]) -> None:
        self._single = self._tokenizer(folder, max_length, "longest_first", pad=True)
        self._unpadded = self._tokenizer(folder, max_length, "longest_first", pad=False)
        self._pairs = self._tokenizer(folder, max_length, "only_first", pad=True)
        self._input_names = tuple(input_names)

    @staticmethod
    def _tokenizer(folder: Path, max_length: int, strategy: str, pad: bool) -> Tokenizer:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        padding = tokenizer.padding or {}
        if pad:
            pad_id, pad_token = int(padding.get("pad_id", 0)), str(padding.get("pad_token", "[PAD]"))
            tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)
        else:
            tokenizer.no_padding()
        tokenizer.enable_truncation(max_length, strategy=strategy)
        return tokenizer

    def __call__(self, texts: Sequence[str]) -> Inputs:
        return self._arrays(self._single.encode_batch(list(texts)))

    def each(self, texts: Sequence[str]) -> list[Inputs]:
        """One input set per text (a batch of one, as long as that text's tokens): no padding, no batch-mates."""
        return [self._arrays([encoding]) for encoding in self._unpadded.encode_batch(list(texts))]

    def pairs(self, firsts: Sequence[str], seconds: Sequence[str]) -> Inputs:
        """Sentence pairs (caption, hypothesis); only the caption is truncated."""
        return self._arrays(self._pairs.encode_batch(list(zip(firsts, seconds, strict=True))))

    def _arrays(self, encodings: list[Encoding]) -> Inputs:
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        return {name: np.asarray(columns[name], dtype=np.int64) for name in self._input_names}


class ByteNgramFeaturizer:
    """Byte n-gram counts of py3langid's naive Bayes identifier, as (feature ids, log1p counts, 1/sqrt(bytes)).

    The DFA walk is the same as py3langid's: it visits every byte, and each state may emit one feature id.
    """

    def __init__(self, folder: Path) -> None:
        with np.load(folder / "featurizer.npz") as data:
            self._nextmove = array("I", data["nextmove"].astype(np.uint32).tobytes())
            self._rowbase = [int(row) << 8 for row in data["nextmove_row"]]
            self._emits = data["out_feat"].astype(np.int64).tolist()

    def features(self, text: str) -> Counter[int]:
        if text.isupper():
            text = text.lower()
        encoded = unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")
        nextmove, rowbase, emits = self._nextmove, self._rowbase, self._emits
        state, found = 0, []
        for byte in encoded:
            state = nextmove[rowbase[state] + byte]
            feature = emits[state]
            if feature >= 0:
                found.append(feature)
        return Counter(found)

    def __call__(self, texts: Sequence[str]) -> Inputs:
        counted = [self.features(text) for text in texts]
        width = max(1, *(len(c) for c in counted)) if counted else 1
        ids = np.zeros((len(texts), width), dtype=np.int64)
        weights = np.zeros((len(texts), width), dtype=np.float32)
        inv_temperature = np.ones((len(texts), 1), dtype=np.float32)
        for row, (text, counts) in enumerate(zip(texts, counted, strict=True)):
            ids[row, : len(counts)] = list(counts.keys())
            weights[row, : len(counts)] = np.log1p(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
            inv_temperature[row, 0] = 1.0 / math.sqrt(max(1, len(text.encode("utf8", errors="surrogatepass"))))
        return {"feature_ids": ids, "feature_weights": weights, "inv_temperature": inv_temperature}
