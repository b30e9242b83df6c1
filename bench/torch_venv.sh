# Sourced by the bench scripts: VENV (TORCH_VENV, default /tmp/lamina-torch) holds PyTorch from the machine image's offline wheel.
VENV="${TORCH_VENV:-/tmp/lamina-torch}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
  # the CPU wheel (+cpu) when there is one: a CUDA build pulls in nvidia packages
  found=$({ find / -name 'torch-2*.whl' 2>/dev/null || true; } | sort)     # find fails on unreadable dirs
  wheel=$(grep -m1 '+cpu' <<<"$found" || head -n1 <<<"$found")
  [ -n "$wheel" ] || { echo "bench: no PyTorch wheel found on this machine" >&2; exit 1; }
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "$wheel" numpy    # its dependencies from pip's configured index
fi
