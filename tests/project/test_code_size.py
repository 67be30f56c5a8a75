"""The code-size report (``tools/code_size.py``) runs and names what it finds; it sets no limit.

File size follows the concept (STYLE.md): the report lists long functions and modules for a reviewer
to judge, so nothing here fails because of a line count.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tools.code_size import FUNCTION_LINES, LongCode, find_long_code, function_lengths

ROOT = Path(__file__).resolve().parents[2]


def test_the_report_runs_on_the_package_and_lists_what_it_finds() -> None:
    result = subprocess.run(
        [sys.executable, "tools/code_size.py", "--function-lines", "40", "--module-lines", "300"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Modules over 300 lines:" in result.stdout and "Functions over 40 lines:" in result.stdout
    found = find_long_code(function_lines=40, module_lines=300)
    assert found, "a 26k-line package has functions over 40 lines"
    for item in found:
        assert item.path in result.stdout
        if item.kind == "function":
            assert f"{item.path}:{item.line}  {item.name}" in result.stdout


def test_the_report_names_a_long_function_and_a_long_module(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    body = "\n".join(f"        x{i} = {i}" for i in range(FUNCTION_LINES))
    (package / "long.py").write_text(
        f"class Holder:\n    def long(self):\n{body}\n\n\ndef short():\n    pass\n"
    )
    found = find_long_code(package, module_lines=50)
    assert found == [
        LongCode("module", "pkg/long.py", "", 1, FUNCTION_LINES + 6),
        LongCode("function", "pkg/long.py", "Holder.long", 2, FUNCTION_LINES + 1),
    ]


def test_function_lengths_qualify_methods_and_nested_functions() -> None:
    tree = ast.parse(
        "class A:\n    def f(self):\n        def g():\n            pass\n\n\ndef h():\n    pass\n"
    )
    assert function_lengths(tree) == [("A.f", 2, 3), ("A.f.g", 3, 2), ("h", 7, 2)]
