"""Which names a module's source deprecates, found statically with :mod:`ast`.

A name counts as deprecated when calling or constructing it always warns:

- a function (or method) whose body, at its top level, calls
  ``warnings.warn(..., DeprecationWarning)`` (also ``PendingDeprecationWarning``,
  ``FutureWarning``, and subclasses whose name ends in ``DeprecationWarning``),
  or calls one of the project's own deprecation helpers;
- a function or class decorated with ``@deprecated`` (``warnings.deprecated``,
  ``typing_extensions.deprecated``, the ``deprecation`` and ``Deprecated``
  packages) or with one of the project's helpers;
- a class whose ``__init__``, ``__new__`` or ``__post_init__`` warns so, and
  its subclasses in the same module that keep calling that constructor;
- a module attribute holding an instance of a class that warns on every
  attribute read (``json = DeprecatedJSON("json")``);
- a module attribute that the module's ``__getattr__`` serves with such a
  warning (``if name == "X": warnings.warn(...)``);
- a module that warns so, unconditionally, when it is imported.

A warning inside an ``if`` of a function deprecates one way of calling it (a
parameter, a value), not the function: those are left out on purpose.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Deprecation", "module_deprecations"]

_CATEGORY = re.compile(r"(DeprecationWarning|FutureWarning)$")
_DECORATORS = frozenset({"deprecated"})
_CONSTRUCTORS = ("__init__", "__new__", "__post_init__")
_PROXY_METHODS = ("__getattribute__", "__getattr__")  # a class that warns on every attribute read


@dataclass(frozen=True)
class Deprecation:
    """How a name is deprecated, and where (line in its module's file)."""

    how: str
    line: int


def _last_name(node: ast.AST) -> str | None:
    """``warn`` for ``warnings.warn`` / ``warn``; ``deprecated`` for ``@deprecated("...")``."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _is_category(node: ast.AST | None) -> bool:
    if node is None:
        return False
    name = _last_name(node)
    return name is not None and bool(_CATEGORY.search(name))


def _warns(call: ast.Call, helpers: frozenset[str]) -> str | None:
    """How ``call`` deprecates (``warnings.warn(DeprecationWarning)``, ``helper _deprecate``), or None."""
    name = _last_name(call)
    if name in helpers:
        return f"calls {name}()"
    if name != "warn":
        return None
    category = call.args[1] if len(call.args) > 1 else None
    for keyword in call.keywords:
        if keyword.arg == "category":
            category = keyword.value
    if _is_category(category):
        return f"warns {_last_name(category)}"  # type: ignore[arg-type]
    # warnings.warn(DeprecationWarning("...")): the category is the message's class.
    if call.args and isinstance(call.args[0], ast.Call) and _is_category(call.args[0]):
        return f"warns {_last_name(call.args[0])}"
    return None


def _top_level_warning(body: Iterable[ast.stmt], helpers: frozenset[str]) -> tuple[str, int] | None:
    """The first unconditional deprecation warning among ``body``'s own statements."""
    for stmt in body:
        value = stmt.value if isinstance(stmt, (ast.Expr, ast.Return)) else None
        if isinstance(stmt, ast.With):  # with warnings.catch_warnings(): ... still runs every call
            found = _top_level_warning(stmt.body, helpers)
            if found:
                return found
        if isinstance(value, ast.Call):
            how = _warns(value, helpers)
            if how:
                return how, stmt.lineno
    return None


def _decorated(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, helpers: frozenset[str]) -> tuple[str, int] | None:
    for decorator in node.decorator_list:
        name = _last_name(decorator)
        if name in _DECORATORS or name in helpers:
            return f"@{name}", decorator.lineno
    return None


def _function(node: ast.FunctionDef | ast.AsyncFunctionDef, helpers: frozenset[str]) -> tuple[str, int] | None:
    return _decorated(node, helpers) or _top_level_warning(node.body, helpers)


def _class(node: ast.ClassDef, helpers: frozenset[str]) -> tuple[str, int] | None:
    found = _decorated(node, helpers)
    if found:
        return found
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in _CONSTRUCTORS:
            warned = _top_level_warning(item.body, helpers)
            if warned:
                return f"{warned[0]} in {item.name}", warned[1]
    return None


def _proxy(node: ast.ClassDef, helpers: frozenset[str]) -> tuple[str, int] | None:
    """A warning on every attribute read (an object standing in for a deprecated module)."""
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name in _PROXY_METHODS:
            warned = _top_level_warning(item.body, helpers)
            if warned:
                return f"{warned[0]} on every attribute ({node.name}.{item.name})", warned[1]
    return None


def _inherits(node: ast.ClassDef, deprecated: dict[str, Deprecation], prefix: str) -> tuple[str, int] | None:
    """A subclass of a deprecated class of the same module warns too, unless its constructor
    replaces the base's without calling it."""
    bases = [b.id for b in node.bases if isinstance(b, ast.Name) and f"{prefix}.{b.id}" in deprecated]
    if not bases:
        return None
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in _CONSTRUCTORS:
            calls_super = any(
                isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == item.name
                for sub in ast.walk(item)
            )
            if not calls_super:
                return None
    return f"inherits the warning of {bases[0]}", node.lineno


def _literal_names(node: ast.AST, constants: dict[str, ast.AST]) -> list[str]:
    """Strings in a literal ``"X"``, ``("X", "Y")``, ``{"X": ...}``, or a module constant holding one."""
    if isinstance(node, ast.Name) and node.id in constants:
        node = constants[node.id]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    items: list[ast.AST | None] = []
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        items = list(node.elts)
    elif isinstance(node, ast.Dict):
        items = list(node.keys)
    return [i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]


def _getattr_names(func: ast.FunctionDef, constants: dict[str, ast.AST], helpers: frozenset[str]) -> dict[str, tuple[str, int]]:
    """Names a module ``__getattr__`` serves with a deprecation warning."""
    if not func.args.args:
        return {}
    arg = func.args.args[0].arg
    found: dict[str, tuple[str, int]] = {}
    for node in ast.walk(func):
        if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
            continue
        test = node.test
        if not (isinstance(test.left, ast.Name) and test.left.id == arg and len(test.ops) == 1):
            continue
        if not isinstance(test.ops[0], (ast.Eq, ast.In)):
            continue
        warned = None
        for inner in node.body:
            for sub in ast.walk(inner):
                if isinstance(sub, ast.Call) and _warns(sub, helpers):
                    warned = (f"module __getattr__ {_warns(sub, helpers)}", sub.lineno)
                    break
            if warned:
                break
        if warned:
            for name in _literal_names(test.comparators[0], constants):
                found[name] = warned
    return found


def module_deprecations(source: str, module: str, helpers: Iterable[str] = ()) -> dict[str, Deprecation]:
    """Deprecated names defined in ``source`` (the module ``module``), by dotted path.

    ``helpers`` are the project's own deprecation functions or decorators
    (dotted or bare; the last name is what is matched). Returns an empty
    dict for a module that does not parse (its tag may predate a syntax
    this Python reads).
    """
    helper_names = frozenset(h.rsplit(".", 1)[-1] for h in helpers)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    found: dict[str, Deprecation] = {}
    proxies: dict[str, tuple[str, int]] = {}
    constants: dict[str, ast.AST] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            constants[stmt.targets[0].id] = stmt.value

    def visit(body: list[ast.stmt], prefix: str, in_class: bool = False) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if in_class and stmt.name.startswith("__") and stmt.name.endswith("__"):
                    continue  # a constructor's warning deprecates the class (found below); other dunders name nothing

                hit = _function(stmt, helper_names)
                if hit:
                    found[f"{prefix}.{stmt.name}"] = Deprecation(*hit)
            elif isinstance(stmt, ast.ClassDef):
                hit = _class(stmt, helper_names) or _inherits(stmt, found, prefix)
                proxy = _proxy(stmt, helper_names)
                if proxy:
                    proxies[stmt.name] = proxy
                if hit:
                    found[f"{prefix}.{stmt.name}"] = Deprecation(*hit)
                visit(stmt.body, f"{prefix}.{stmt.name}", in_class=True)
            elif isinstance(stmt, (ast.If, ast.Try)):  # if TYPE_CHECKING / try-except ImportError definitions
                visit(stmt.body, prefix, in_class)

    visit(tree.body, module)
    for name, value in constants.items():  # json = DeprecatedJSON("json")
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in proxies:
            found.setdefault(f"{module}.{name}", Deprecation(*proxies[value.func.id]))
    warned = _top_level_warning(tree.body, helper_names)
    if warned:  # importing the module warns: the module is deprecated
        found[module] = Deprecation(f"{warned[0]} on import", warned[1])
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == "__getattr__":
            for name, hit in _getattr_names(stmt, constants, helper_names).items():
                found.setdefault(f"{module}.{name}", Deprecation(*hit))
    return found
