"""FHIRPath for the TestScript engine: fhirpathpy with the release's model and three shims.

docs/qualification.md#fhirpath. fhirpathpy must get the model of the script's FHIR release
(``fhirpathpy.models.models['stu3' | 'r4']``): without it, type tests such as
``descendants().where($this.is(Coding))`` match nothing and asserts pass vacuously.

The Nictiz CheckContent scripts need behaviour fhirpathpy 2.2 lacks; each shim makes
fhirpathpy follow the FHIRPath specification (N1, http://hl7.org/fhirpath/N1/):

* ``hasValue()`` (FHIR's additional function, FHIR spec "fhirpath.html#functions"): true
  for a single primitive that has a value. Not implemented upstream
  (beda-software/fhirpath-py#66); given through the user invocation table.
* Singleton evaluation of collections (FHIRPath §4.5): a single non-boolean item where a
  Boolean is expected counts as ``true``, as in ``identifier.where(system and value)``.
  fhirpathpy raises "Expected boolean" for the operands of ``and``/``or``/``implies``;
  the shim replaces its Boolean parameter check.
* Primitives with extensions (FHIR JSON ``_name``): fhirpathpy returns the value and
  its extension as two items, so ``telecom.where(system = 'phone')`` is false and counts
  double when ``system`` carries an extension. The shim makes navigation return one
  item that holds both, as fhirpath.js does, and lets ``.extension``, ``.id`` and
  ``extension(url)`` read the extension of that item. A primitive with only an extension
  (a masked BSN) stays one item whose value is its extension object, as before.

The last two patch fhirpathpy's module tables, once, when the first expression is
compiled (:func:`install_shims`); both only change results where fhirpathpy deviated from
the specification.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript.errors import FhirPathError

__all__ = ["FhirPath", "as_boolean", "install_shims", "result_text"]

# fhirpathpy's internals are untyped; they are reached as modules (Any) on purpose. The
# module `fhirpathpy.engine.evaluators` is also shadowed by a dict of the same name.
_fhirpathpy: Any = importlib.import_module("fhirpathpy")
_engine: Any = importlib.import_module("fhirpathpy.engine")
_nodes: Any = importlib.import_module("fhirpathpy.engine.nodes")
_util: Any = importlib.import_module("fhirpathpy.engine.util")
_evaluators: Any = importlib.import_module("fhirpathpy.engine.evaluators")
_invocations: Any = importlib.import_module("fhirpathpy.engine.invocations")
_models: Any = importlib.import_module("fhirpathpy.models").models
_antlr: Any = importlib.import_module("antlr4")
_antlr_errors: Any = importlib.import_module("antlr4.error.ErrorListener")
_lexer: Any = importlib.import_module("fhirpathpy.parser.generated.FHIRPathLexer")
_parser: Any = importlib.import_module("fhirpathpy.parser.generated.FHIRPathParser")

_MODEL_NAMES = {FhirVersion.STU3: "stu3", FhirVersion.R4: "r4"}
_install_lock = threading.Lock()
_installed = False
_evaluation_lock = threading.Lock()
"""fhirpathpy keeps per-evaluation state in module globals, shared by every model."""


def _boolean_param(value: Any) -> Any:
    data = _util.get_data(value)
    if isinstance(data, bool):
        return data
    return True


def _merge_member(model: Any, key: str) -> Callable[[list[Any], Any], list[Any]]:
    """fhirpathpy's member-invocation reducer, with a primitive's ``_key`` merged in."""
    create = _nodes.ResourceNode.create_node

    def reducer(acc: list[Any], res: Any) -> list[Any]:
        res = create(res)
        child_path = f"{res.path}.{key}" if res.path else f"_.{key}"
        full_path = (f"{res.propName}.{key}" if res.propName else child_path).replace("_", "")
        actual_types = None
        value: Any = None
        extra: Any = None
        if isinstance(model, dict):
            child_path = model["pathsDefinedElsewhere"].get(child_path, child_path)
            actual_types = model["choiceTypePaths"].get(child_path)
        data = res.data
        if isinstance(data, _nodes.FP_Quantity):
            value = data.value
        if actual_types and isinstance(data, Mapping):
            for actual in actual_types:
                name = f"{key}{actual}"
                value, extra = data.get(name), data.get(f"_{name}")
                if value is not None or extra is not None:
                    child_path += actual
                    break
        elif isinstance(data, Mapping):
            value, extra = data.get(key), data.get(f"_{key}")
            if key == "extension":
                child_path = "Extension"
        elif key in ("extension", "id") and isinstance(res._data, Mapping):
            # A merged primitive: its extension and id live in _data.
            value = res._data.get(key)
            if key == "extension":
                child_path = "Extension"
        elif key == "length" and data is not None:
            value = len(data)
        if isinstance(model, dict) and "path2Type" in model:
            child_path = model["path2Type"].get(child_path, child_path)
        values = value if isinstance(value, list) else ([] if value is None else [value])
        extras = extra if isinstance(extra, list) else ([] if extra is None else [extra])
        many = isinstance(value, list) or isinstance(extra, list)
        for index in range(max(len(values), len(extras))):
            item = values[index] if index < len(values) else None
            item_extra = extras[index] if index < len(extras) else None
            prop = f"{full_path}[{index}]" if many else full_path
            if item is not None and not isinstance(item, Mapping | list):
                acc.append(
                    _nodes.ResourceNode(
                        item, child_path, _data=item_extra, propName=prop, index=index
                    )
                )
            elif item is not None:
                acc.append(create(item, child_path, propName=prop, index=index))
                if item_extra is not None:
                    acc.append(create(item_extra, child_path, propName=prop, index=index))
            elif item_extra is not None:
                acc.append(create(item_extra, child_path, propName=prop, index=index))
        return acc

    return reducer


def _extension_fn(ctx: Any, data: list[Any], url: str) -> list[Any]:
    result = []
    for item in data:
        element = _util.get_data(item)
        holder = element if isinstance(element, Mapping) else None
        if holder is None and isinstance(item, _nodes.ResourceNode):
            holder = item._data if isinstance(item._data, Mapping) else None
        if holder is None:
            continue
        found = [ext for ext in holder.get("extension", []) or [] if ext.get("url") == url]
        if found:
            result.append(_nodes.ResourceNode.create_node(found[0], "Extension"))
    return result


def install_shims() -> None:
    """Patch fhirpathpy's tables (idempotent, thread-safe). See the module docstring."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _engine.param_check_table["Boolean"] = _boolean_param
        _evaluators.create_reduce_member_invocation = _merge_member
        registry = _invocations.invocation_registry
        registry["extension"] = {**registry["extension"], "fn": _extension_fn}
        _installed = True


class _Collect(_antlr_errors.ErrorListener):  # type: ignore[misc]
    """Keeps ANTLR's syntax errors, which fhirpathpy's own parse silently recovers from."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[str] = []

    def syntaxError(
        self, recognizer: Any, symbol: Any, line: int, column: int, message: str, error: Any
    ) -> None:
        self.errors.append(f"column {column + 1}: {message}")


def _syntax_errors(expression: str) -> list[str]:
    listener = _Collect()
    lexer = _lexer.FHIRPathLexer(_antlr.InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(listener)
    parser = _parser.FHIRPathParser(_antlr.CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    parser.expression()
    return listener.errors


def _has_value(inputs: list[Any]) -> list[bool]:
    # fhirpathpy hands user functions the plain data: a merged primitive arrives as its
    # value, an extension-only primitive as a dict.
    if len(inputs) != 1:
        return [False]
    value = inputs[0]
    return [value is not None and not isinstance(value, Mapping | list)]


_OPTIONS: dict[str, Any] = {
    "userInvocationTable": {"hasValue": {"fn": _has_value, "arity": {0: []}}}
}


class FhirPath:
    """Compiles and evaluates FHIRPath for one FHIR release, caching compiled expressions."""

    def __init__(self, version: FhirVersion) -> None:
        install_shims()
        self.version = version
        self._model = _models[_MODEL_NAMES[version]]
        self._compiled: dict[str, Callable[..., list[Any]]] = {}

    def compile(self, expression: str) -> Callable[..., list[Any]]:
        """Compile (once) or raise :class:`FhirPathError` with the parser's complaint."""
        with _evaluation_lock:
            known = self._compiled.get(expression)
            if known is not None:
                return known
            errors = _syntax_errors(expression)
            if errors:
                raise FhirPathError(expression, "syntax error at " + "; ".join(errors))
            try:
                compiled: Callable[..., list[Any]] = _fhirpathpy.compile(
                    expression, model=self._model, options=_OPTIONS
                )
            except Exception as exc:
                # fhirpathpy raises bare Exceptions (and antlr ones) for syntax errors.
                raise FhirPathError(expression, str(exc) or type(exc).__name__) from exc
            self._compiled[expression] = compiled
            return compiled

    def knows_type(self, name: str) -> bool:
        """Whether ``name`` is a type of this release's model (not a backbone element)."""
        return name in self._model["type2Parent"]

    def evaluate(self, resource: Any, expression: str, *, base: str | None = None) -> list[Any]:
        """The result collection of ``expression`` on ``resource`` (a JSON object).

        ``base`` is the FHIR path or type of ``resource`` when it is not a resource
        (``Observation.component``, ``HumanName``), so that choice elements and type tests
        resolve.
        """
        compiled = self.compile(expression)
        root = resource if base is None else _nodes.ResourceNode.create_node(resource, base)
        with _evaluation_lock:
            try:
                result = compiled(root, {})
            except Exception as exc:
                raise FhirPathError(expression, str(exc) or type(exc).__name__) from exc
        return list(result)


def as_boolean(result: list[Any]) -> bool:
    """A result collection read as a condition, the way Touchstone/HAPI evaluate an assert.

    Empty is false; a single boolean is itself; a single number is true unless zero; a
    single string is true unless empty or "false"; any other non-empty collection is true.
    """
    if not result:
        return False
    if len(result) == 1:
        item = result[0]
        if isinstance(item, bool):
            return item
        if isinstance(item, int | float | Decimal):
            return item != 0
        if isinstance(item, str):
            return item != "" and item.lower() != "false"
    return True


def result_text(result: list[Any], limit: int = 200) -> str:
    """A result collection as short text for a report."""
    parts = []
    for item in result:
        if isinstance(item, bool):
            parts.append("true" if item else "false")
        elif isinstance(item, Mapping):
            parts.append("{" + ", ".join(str(key) for key in list(item)[:4]) + "}")
        else:
            parts.append(str(item))
    text = "[" + ", ".join(parts) + "]"
    return text if len(text) <= limit else text[: limit - 1] + "…"
