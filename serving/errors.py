"""Request errors shared by the REST and gRPC front ends (TF Serving's codes)."""


class ServingRequestError(Exception):
    """A request the server cannot answer; ``http_status`` and ``grpc_code`` say how."""

    http_status = 400
    grpc_code = "INVALID_ARGUMENT"


class InvalidArgument(ServingRequestError):
    pass


class NotFound(ServingRequestError):
    http_status = 404
    grpc_code = "NOT_FOUND"


class Unavailable(ServingRequestError):
    http_status = 503
    grpc_code = "UNAVAILABLE"
