"""Serving constants in one place (no heavy imports: the CLI reads them for --help)."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_REST_PORT = 8501
DEFAULT_GRPC_PORT = 8500
DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024
DEFAULT_POLL_SECONDS = 2.0
DEFAULT_KEEP_VERSIONS = 2
# Width x height an image may declare (checked from its header before decoding): the
# server, the data validator and `hubtune predict` refuse larger ones.
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000
# REST: a connection idle this long is closed; at most this many are served at once, and
# this many more wait; past that a new connection gets 503 at once.
DEFAULT_REQUEST_TIMEOUT_SECONDS = 30.0
DEFAULT_REST_WORKERS = 16
DEFAULT_REST_QUEUE = 32
# TF Serving's image for the pinned stack (TensorFlow 2.16 -> tensorflow/serving:2.16.1).
TF_SERVING_IMAGE = "tensorflow/serving:2.16.1"
PROMETHEUS_PATH = "/monitoring/prometheus/metrics"
MODEL_MOUNT = "/models"            # where the container sees serving.base_dir
CONFIG_MOUNT = "/config"           # where the container sees the generated config files
MODEL_CONFIG_POLL_SECONDS = 60
BATCHING = {"max_batch_size": 32, "batch_timeout_micros": 2000, "max_enqueued_batches": 100,
            "num_batch_threads": 2}
K8S_MIN_REPLICAS, K8S_MAX_REPLICAS, K8S_TARGET_CPU_PERCENT = 1, 4, 70
# Op types outside core TensorFlow that stock TF Serving images also register (they embed
# TF Text 2.12): a model may use these and still load there.  The serving check refuses
# any other non-core op.  Only ops whose registration is identical in TF Text 2.12 and the
# pinned version belong here.
TF_SERVING_EXTRA_OPS = ("CaseFoldUTF8", "NormalizeUTF8", "RegexSplitWithOffsets",
                        "WordpieceTokenizeWithOffsets")
# The serving check (the InfraValidator stand-in): requests per signature, and how long the
# fresh server may take to load and warm the candidate.
SERVING_CHECK_EXAMPLES = 8
# A connection refused with 503 (every REST worker busy) is closed only after reading what
# the client still sends, for at most this long (closing with unread data resets the
# connection, and the client may lose the 503); at most this many linger at once.
REFUSED_LINGER_SECONDS = 1.0
MAX_LINGERING_REFUSALS = 16
SERVING_CHECK_LOAD_SECONDS = 300.0
