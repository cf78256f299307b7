"""Where the resource server's data comes from: each source makes `Dataset`s.

* `nictiz`: the Nictiz qualification fixtures, read from a Nictiz-testscripts checkout
  given at run time, for a qualification zorgaanbieder.
* `synthetic`: deterministic, seeded Dutch demo patients with zib-shaped resources for
  every BgZ section (48) and for Vaccinaties (63).

The store loads whatever these return; nothing here serves HTTP.
"""
