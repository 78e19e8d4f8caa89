"""The product installs on its own: the wheel holds only `cw_pipeline`, and the handler imports from anywhere.

There is no Docker engine here, so this is the image's promise checked without building it: the wheel
(`uv build`) installed with the locked runtime dependencies (the same export the Dockerfile runs) into a
clean virtual environment, then the Lambda entry point imported from an unrelated working directory.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"


def _uv(*args: str, cwd: Path = ROOT) -> str:
    completed = subprocess.run([str(UV), *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, f"uv {' '.join(args)} failed:\n{completed.stderr[-3000:]}"
    return completed.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _uv("build", "--wheel", "--out-dir", str(out), "--python", sys.executable)
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_holds_the_product_package_only(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/", 1)[0] for name in names if not name.split("/", 1)[0].endswith(".dist-info")}
    assert top_level == {"cw_pipeline"}
    assert "cw_pipeline/lambda_handler.py" in names and "cw_pipeline/runtime/handler.py" in names


def test_the_installed_wheel_imports_the_handler_from_any_directory(wheel: Path, tmp_path: Path):
    requirements = tmp_path / "requirements.txt"
    _uv("export", "--frozen", "--no-default-groups", "--no-emit-project", "--no-header", "--output-file",
        str(requirements))  # fmt: skip
    venv = tmp_path / "venv"
    _uv("venv", str(venv), "--python", sys.executable)
    python = venv / "bin" / "python"
    _uv("pip", "install", "--python", str(python), "-r", str(requirements), str(wheel))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = (
        "import sys, cw_pipeline.lambda_handler as h; "
        "assert callable(h.handler); "
        "assert not [m for m in sys.modules if m.split('.')[0] in ('cw_local', 'interactions_api', 'tests')]; "
        "print(h.__file__)"
    )
    completed = subprocess.run(
        [str(python), "-c", probe],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path / "home"), "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip().startswith(str(venv)), completed.stdout
