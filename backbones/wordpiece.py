"""BERT WordPiece tokenization inside the TensorFlow graph, with TF Serving's op set.

Clients of a text model send raw strings, so tokenization is part of the exported
graph.  Stock TF Serving images register TF Text 2.12's ops only, so this uses core
TF ops plus ``NormalizeUTF8``, ``RegexSplitWithOffsets`` and
``WordpieceTokenizeWithOffsets`` (``text.BertTokenizer``, never ``FastBertTokenizer``
and never the trimmers; see ``config.serving_defaults.TF_SERVING_EXTRA_OPS``).

It reproduces Hugging Face's ``BertNormalizer`` + ``BertPreTokenizer`` + ``WordPiece``
for an uncased vocabulary: control characters dropped and whitespace unified
(clean_text), lower-cased, accents stripped (NFD, then nonspacing marks removed),
split on whitespace, punctuation and CJK characters, then WordPiece.  ``pack``
truncates to ``max_seq_length`` (keeping [CLS] and [SEP]) and pads.
"""

import json
from typing import Dict, List

import tensorflow as tf
import tensorflow_text as text

CLS, SEP, PAD, UNK = "[CLS]", "[SEP]", "[PAD]", "[UNK]"


def vocab_from_tokenizer_json(path: str) -> List[str]:
    """A Hugging Face ``tokenizer.json``'s WordPiece vocabulary, in id order."""
    with open(path, encoding="utf-8") as f:
        model = json.load(f)["model"]
    if model.get("type") != "WordPiece":
        raise ValueError(f"{path}: a WordPiece tokenizer is needed, not {model.get('type')}")
    by_id = sorted((i, token) for token, i in model["vocab"].items())
    if [i for i, _ in by_id] != list(range(len(by_id))):
        raise ValueError(f"{path}: the vocabulary ids are not 0..{len(by_id) - 1}")
    return [token for _, token in by_id]


class WordpieceTokenizer(tf.Module):
    """Strings [batch] -> token ids (ragged), and BERT encoder inputs of a fixed length."""

    def __init__(self, vocab: List[str], name: str = "wordpiece_tokenizer"):
        super().__init__(name=name)
        ids = tf.range(len(vocab), dtype=tf.int64)
        self.vocab_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(vocab), ids), default_value=-1)
        self.tokenizer = text.BertTokenizer(self.vocab_table, token_out_type=tf.int64,
                                            unknown_token=UNK, lower_case=False)
        index = {token: i for i, token in enumerate(vocab)}
        self.cls_id, self.sep_id, self.pad_id = index[CLS], index[SEP], index[PAD]
        self.vocab_size = len(vocab)

    @staticmethod
    def normalize(strings: tf.Tensor) -> tf.Tensor:
        """As Hugging Face's BertNormalizer: whitespace (\\t \\n \\r and Unicode spaces) to
        " ", control and format characters dropped, lower case, accents stripped."""
        strings = tf.strings.regex_replace(strings, r"[\t\n\r\p{Zs}]", " ")
        strings = tf.strings.regex_replace(strings, r"[\p{Cc}\p{Cf}\x{FFFD}]", "")
        strings = tf.strings.lower(strings, encoding="utf-8")
        strings = text.normalize_utf8(strings, "NFD")
        return tf.strings.regex_replace(strings, r"\p{Mn}", "")

    def word_pieces(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """Word-piece ids [batch, (words), (pieces)]: the TF-Hub preprocessor's ``tokenize``."""
        return tf.cast(self.tokenizer.tokenize(self.normalize(strings)), tf.int32)

    def tokenize(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """Word-piece ids [batch, (tokens)] without [CLS]/[SEP]."""
        return self.word_pieces(strings).merge_dims(-2, -1)

    def pack(self, ids: tf.RaggedTensor, seq_length: int,
             fixed_length: bool = True) -> Dict[str, tf.Tensor]:
        """[CLS] ids [SEP], truncated to ``seq_length``: the TF-Hub BERT inputs, padded to
        ``seq_length`` (``fixed_length``) or to the batch's longest row."""
        ids = ids[:, :seq_length - 2]
        batch = ids.nrows()
        cls = tf.fill([batch, 1], self.cls_id)
        sep = tf.fill([batch, 1], self.sep_id)
        ids = tf.concat([cls, ids, sep], axis=1)
        shape = [None, seq_length if fixed_length else None]
        if fixed_length and isinstance(seq_length, tf.Tensor):  # traced: a tensor length
            shape = tf.stack([tf.cast(batch, tf.int32), tf.cast(seq_length, tf.int32)])
        word_ids = ids.to_tensor(default_value=self.pad_id, shape=shape)
        mask = tf.ones_like(ids).to_tensor(default_value=0, shape=shape)
        return {"input_word_ids": word_ids, "input_mask": mask,
                "input_type_ids": tf.zeros_like(word_ids)}

    def pack_segments(self, segments, seq_length) -> Dict[str, tf.Tensor]:
        """The TF-Hub preprocessor's ``bert_pack_inputs`` for one segment of word pieces."""
        return self.pack(segments[0].merge_dims(-2, -1), seq_length)

    def encoder_inputs(self, strings: tf.Tensor, seq_length: int,
                       fixed_length: bool = True) -> Dict[str, tf.Tensor]:
        return self.pack(self.tokenize(tf.reshape(strings, [-1])), seq_length, fixed_length)
