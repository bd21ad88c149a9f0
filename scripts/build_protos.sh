#!/usr/bin/env bash
# Generates Python code, .pyi stubs and Envoy's descriptor set from protos/ into gen/. Never edit gen/ by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
INC=$("$PY" -c "import google.api.annotations_pb2 as m, pathlib; print(pathlib.Path(m.__file__).parents[2])")
rm -rf gen && mkdir -p gen
mapfile -t files < <(cd protos && find . -name '*.proto' | sed 's|^\./||' | sort)
(cd protos && "$OLDPWD/$PY" -m grpc_tools.protoc -I . -I "$INC" \
  --python_out=../gen --pyi_out=../gen --grpc_python_out=../gen \
  --include_imports --include_source_info --descriptor_set_out=../gen/api_descriptor.pb "${files[@]}")
# Regular packages (not namespace packages) so that type checkers and importers agree.
find gen -mindepth 1 -type d -exec touch {}/__init__.py \;
touch gen/py.typed
echo "protos: ${#files[@]} files -> gen/ (descriptor: gen/api_descriptor.pb)"
