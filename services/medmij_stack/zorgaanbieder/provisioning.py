"""What this node serves, from its settings and the data sources, and putting it in the store.

Per zorgaanbieder of the settings (that is, of the world):

* ``deelt = false``: nothing. It is listed in the ZAL, but holds no data for anyone.
* ``nictiz = true``: the Nictiz qualification patients (docs/qualification.md#fixtures), from the
  material at ``settings.nictiz`` or ``$MEDMIJ_NICTIZ``; without it, nothing (and a
  warning: ``medmij up`` and ``medmij serve`` leave such a zorgaanbieder out of the world,
  so it is neither in the ZAL nor here).
* otherwise: synthetic records of the world's persons who are patients there. The persons
  and who is where come from :func:`medmij_stack.protocol.persons.test_persons` and
  :func:`medmij_stack.protocol.persons.assign_zorgaanbieders` with the world's seed and its ordered
  list of sharing zorgaanbieders, exactly as the world computes them
  (``medmij_stack.wiring.world.World.person_zorgaanbieders``), so the DigiD simulator and this node
  agree on who has data where without reading each other's databases.

Loading happens before the node serves (in the app's lifespan). The store skips a dataset
whose version it already holds, so a restart with unchanged data is quick.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from medmij_stack.protocol.persons import assign_zorgaanbieders, test_persons

from .dataset import Dataset
from .settings import ZorgaanbiederSettings
from .sources.nictiz import find_nictiz, load_nictiz
from .sources.synthetic import synthetic_datasets

__all__ = ["datasets_for"]

log = logging.getLogger(__name__)


def datasets_for(settings: ZorgaanbiederSettings) -> list[Dataset]:
    """Every dataset this node serves, one per (zorgaanbieder, gegevensdienst) with data."""
    persons = test_persons(settings.seed, settings.persons_count)
    where = assign_zorgaanbieders(settings.seed, persons, settings.sharing_zorgaanbieders)
    nictiz_root = None
    if any(za.nictiz and za.deelt for za in settings.zorgaanbieders):
        nictiz_root = find_nictiz(settings.nictiz)
    datasets: list[Dataset] = []
    for za in settings.zorgaanbieders:
        if not za.deelt:
            continue
        found: Sequence[Dataset]
        if za.nictiz:
            if nictiz_root is None:
                log.warning(
                    "%s serves the Nictiz qualification patients, but no Nictiz material "
                    "was given (--nictiz PATH or $MEDMIJ_NICTIZ): it serves nothing",
                    za.naam,
                )
                continue
            found = load_nictiz(nictiz_root, za.naam)
        else:
            mine = [p for p in persons if za.naam in where.get(p.bsn, ())]
            found = synthetic_datasets(
                za.naam,
                za.gegevensdiensten,
                mine,
                seed=settings.seed,
                incomplete=za.gedrag.onvolledig,
            )
        for dataset in found:
            if dataset.endpoint.gegevensdienst in za.gegevensdiensten:
                datasets.append(dataset)
    return datasets
