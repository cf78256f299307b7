"""Load a running stack with persons retrieving through the PGO (``locust -f`` this file).

The user is :class:`medmij_stack.wiring.locust_user.PatientUser` (its docstring lists the
environment it reads: ``MEDMIJ_STACK_JSON``, ``MEDMIJ_SCENARIO``, ``MEDMIJ_SEED``,
``MEDMIJ_WAIT``, ``MEDMIJ_THREADS``). A local run::

    MEDMIJ_STACK_JSON=data/stack.json MEDMIJ_SCENARIO=baseline \\
        locust -f benchmarks/locustfile.py --headless -u 8 -r 2 -t 2m

A distributed run: the same environment on every machine, then
``locust -f benchmarks/locustfile.py --master`` on one and
``locust -f benchmarks/locustfile.py --worker --master-host HOST`` on the others.
"""

from medmij_stack.wiring.locust_user import PatientUser

__all__ = ["PatientUser"]
