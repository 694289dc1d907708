"""``hubtune``'s entry point: parse, dispatch, and turn known failures into exit codes."""

import sys
import warnings

from hubtune import config as config_lib
from hubtune.cli import commands
from hubtune.cli.parser import build_parser

EXIT_RUN_FAILED = 1


def _known_failures():
    """Errors that get one plain line instead of a traceback (imported when needed)."""
    from hubtune.pipeline.local_runner import PipelineRunError
    from hubtune.runs.mlmd import MetadataError
    from hubtune.runs.schema_freeze import FreezeError
    from hubtune.edge.tflite_export import EdgeExportError
    return {config_lib.ConfigError: ("config error: ", commands.EXIT_CONFIG_ERROR),
            MetadataError: ("", commands.EXIT_CONFIG_ERROR),  # no such run, no ML Metadata yet
            PipelineRunError: ("", EXIT_RUN_FAILED),
            FreezeError: ("", commands.EXIT_CONFIG_ERROR),
            EdgeExportError: ("", commands.EXIT_CONFIG_ERROR)}


def main(argv=None) -> int:
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except config_lib.ConfigError as e:
        print(f"hubtune: config error: {e}", file=sys.stderr)
        return commands.EXIT_CONFIG_ERROR
    except Exception as e:  # noqa: BLE001 - surface known pipeline failures plainly
        for error_type, (prefix, code) in _known_failures().items():
            if isinstance(e, error_type):
                print(f"hubtune: {prefix}{e}", file=sys.stderr)
                return code
        raise


if __name__ == "__main__":
    sys.exit(main())
