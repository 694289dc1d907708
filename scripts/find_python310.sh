#!/usr/bin/env bash
# Prints a working Python 3.10 interpreter (TFX 1.16 needs Python < 3.11), or explains.
set -u
for candidate in "${PYTHON310:-}" python3.10 "$(pyenv root 2>/dev/null)"/versions/3.10*/bin/python3.10 \
                 /usr/bin/python3.10 /usr/local/bin/python3.10; do
  [ -n "$candidate" ] || continue
  if "$candidate" -c 'import sys, venv; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
    command -v "$candidate" 2>/dev/null || echo "$candidate"
    exit 0
  fi
done
cat >&2 <<'MSG'
hubtune needs Python 3.10 (TFX 1.16.0 does not support 3.11+), and none was found.
Install one, e.g. `pyenv install 3.10.13` or `apt-get install python3.10 python3.10-venv`,
or point PYTHON310=/path/to/python3.10 at it, then run make again.
MSG
exit 1
