"""Lists validated in several threads at once, from the very first use of each schema.

A node validates its four lists in worker threads (off the event loop). Compiling or using
one libxml2 schema from several threads at once crashed a node; the validators are built
once under a lock and each is used by one thread at a time.
"""

from __future__ import annotations

import threading

from medmij_stack.protocol.lists import ListKind, parse_list, write_list
from medmij_stack.protocol.lists import schemas as schemas_module
from tests.protocol.lists import samples


def test_every_list_parses_in_many_threads_at_once_from_a_cold_start() -> None:
    documents = [
        (ListKind.ZAL, write_list(samples.zal())),
        (ListKind.OCL, write_list(samples.ocl())),
        (ListKind.GNL, write_list(samples.gnl())),
        (ListKind.WHITELIST, write_list(samples.whitelist())),
    ]
    failures: list[BaseException] = []

    def read(start: threading.Barrier, kind: ListKind, document: bytes) -> None:
        start.wait()
        try:
            parse_list(kind, document)
        except BaseException as exc:
            failures.append(exc)

    for _round in range(5):
        schemas_module._VALIDATORS.clear()  # every schema compiled during the race
        start = threading.Barrier(len(documents) * 3)
        threads = [threading.Thread(target=read, args=(start, *doc)) for doc in documents * 3]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not failures
        assert all(not thread.is_alive() for thread in threads)
    # One validator per schema, however many threads asked for it at once.
    assert len(schemas_module._VALIDATORS) == len(set(schemas_module._VALIDATORS))
