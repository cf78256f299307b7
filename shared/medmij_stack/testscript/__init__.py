"""The FHIR TestScript engine behind ``medmij qualify`` (docs/qualification.md#the-engine).

Reads the Nictiz qualification TestScripts (raw XML, R4 syntax with R5 elements), runs
them against a FHIR server through an httpx transport, evaluates their asserts with
fhirpathpy (the release's model, plus shims), validates responses against the base
structure and the profiles in a folder, and writes JUnit XML and HTML reports. The
``simulator`` subpackage plays the server for PHR-Client scripts.

No web framework here; the only I/O is reading the files a caller names and sending
requests through the transport a caller gives.
"""

from medmij_stack.testscript.discovery import discover
from medmij_stack.testscript.errors import (
    FhirPathError,
    ScriptError,
    TestScriptError,
    VariableError,
)
from medmij_stack.testscript.exchange import Exchange, HttpRequest, HttpResponse
from medmij_stack.testscript.fhirpath import FhirPath
from medmij_stack.testscript.model import (
    Assert,
    Operation,
    Role,
    ScriptTest,
    TestScript,
    Variable,
)
from medmij_stack.testscript.parsing import read_testscript
from medmij_stack.testscript.profiles import ProfileValidator, ValidationReport
from medmij_stack.testscript.profiles.registry import ProfileRegistry
from medmij_stack.testscript.results import (
    AssertResult,
    OperationResult,
    Outcome,
    ScriptResult,
    TestOutcome,
    TestResult,
)
from medmij_stack.testscript.runner import RunListener, Runner
from medmij_stack.testscript.transport import HttpxTransport, Transport, TransportError

__all__ = [
    "Assert",
    "AssertResult",
    "Exchange",
    "FhirPath",
    "FhirPathError",
    "HttpRequest",
    "HttpResponse",
    "HttpxTransport",
    "Operation",
    "OperationResult",
    "Outcome",
    "ProfileRegistry",
    "ProfileValidator",
    "Role",
    "RunListener",
    "Runner",
    "ScriptError",
    "ScriptResult",
    "ScriptTest",
    "TestOutcome",
    "TestResult",
    "TestScript",
    "TestScriptError",
    "Transport",
    "TransportError",
    "ValidationReport",
    "Variable",
    "VariableError",
    "discover",
    "read_testscript",
]
