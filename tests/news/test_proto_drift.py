"""The committed generated code is exactly what the .proto and the locked grpcio-tools
produce: regenerate into a temporary folder and compare byte for byte."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO = "delinkcious/news/v1/news.proto"
GENERATED = ("news_pb2.py", "news_pb2_grpc.py", "news_pb2.pyi")
COMMITTED = ROOT / "pkg" / "delinkcious" / "news" / "v1"


def test_generated_code_matches_the_proto(tmp_path: Path) -> None:
    out = str(tmp_path)
    subprocess.run(
        [
            sys.executable, "-m", "grpc_tools.protoc", "-Iproto",
            f"--python_out={out}", f"--grpc_python_out={out}", f"--pyi_out={out}",
            PROTO,
        ],
        cwd=ROOT,
        check=True,
    )  # fmt: skip
    regenerated = tmp_path / "delinkcious" / "news" / "v1"
    assert sorted(p.name for p in regenerated.iterdir()) == sorted(GENERATED)
    stale = [
        name for name in GENERATED if (regenerated / name).read_bytes() != (COMMITTED / name).read_bytes()
    ]
    assert not stale, (
        f"{', '.join(stale)} differ from {PROTO}; regenerate with: .venv/bin/python -m grpc_tools.protoc "
        "-Iproto --python_out=pkg --grpc_python_out=pkg --pyi_out=pkg " + "proto/" + PROTO
    )
