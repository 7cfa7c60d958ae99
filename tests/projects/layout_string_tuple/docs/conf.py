# Sphinx configuration: the version comes from the package source, never written here.
import ast
from pathlib import Path

_source = Path(__file__).parent.parent / "src" / "quill" / "__init__.py"
_tree = ast.parse(_source.read_text())
version_info = next(
    ast.literal_eval(node.value) for node in _tree.body
    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__version_info__"
)
project = "quill"
version = ".".join(version_info[:2])
release = ".".join(version_info[:3]) + "".join(version_info[3:])
