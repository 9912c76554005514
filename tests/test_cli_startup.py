"""The command line starts without the heavy libraries: they load inside the command that runs."""

import subprocess
import sys

HEAVY = ("torch", "torchvision", "numpy", "scipy", "faiss", "ray", "fastapi", "uvicorn", "onnx", "onnxruntime",
         "transformers", "cv2", "matplotlib", "sklearn", "PIL")

PROBE = """
import contextlib, io, sys
from personsearch import cli
parser = cli.build_parser()
for argv in ({argvs}):
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args(argv)
        except SystemExit:
            pass
print(" ".join(sorted(name for name in {heavy!r} if name in sys.modules)))
"""


def loaded_after(*argvs: list[str]) -> str:
    code = PROBE.format(argvs="".join(f"{list(argv)!r}, " for argv in argvs) or "", heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_building_the_parser_imports_no_heavy_library():
    assert loaded_after() == ""


def test_help_of_every_command_imports_no_heavy_library():
    from personsearch import cli

    commands = sorted(cli.build_parser()._subparsers._group_actions[0].choices)
    assert {"eval-results", "index", "search"} <= set(commands)
    assert loaded_after(["--help"], *([name, "--help"] for name in commands)) == ""
