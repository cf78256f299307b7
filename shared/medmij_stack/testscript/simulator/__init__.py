"""Playing the server for PHR-Client scripts, from the Nictiz fixtures.

``fixtures`` loads fixture folders and the qualification token list, ``search`` answers
the scripts' searches and reads, ``service`` is the framework-free request handler that
records what a client asked, ``matching`` decides which request each test is judged on,
and ``clientcheck`` judges those requests by the scripts.
"""

from medmij_stack.testscript.simulator.clientcheck import (
    evaluate_client_script,
    evaluate_client_scripts,
    expected_request,
    pending_requests,
)
from medmij_stack.testscript.simulator.fixtures import (
    FixtureError,
    FixtureStore,
    TokenRegistry,
    fixture_folder,
    token_file,
)
from medmij_stack.testscript.simulator.search import SearchRequest, read, search
from medmij_stack.testscript.simulator.service import Reply, Simulator

__all__ = [
    "FixtureError",
    "FixtureStore",
    "Reply",
    "SearchRequest",
    "Simulator",
    "TokenRegistry",
    "evaluate_client_script",
    "evaluate_client_scripts",
    "expected_request",
    "fixture_folder",
    "pending_requests",
    "read",
    "search",
    "token_file",
]
