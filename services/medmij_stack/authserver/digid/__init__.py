"""DigiD in this stack: the simulated DigiD itself, and this server's side of the login.

The Afsprakenstelsel has the authorisation server authenticate the person with DigiD, as
a SAML service provider with the artifact binding ([SPEC-1.x] steps 4-7). Both parties of
that exchange live here, each in its own module:

* :mod:`.simulator` — DigiD, simulated: the world's test persons, its login screen
  (``/digid/inloggen`` on the front node) and its artifact-resolution service
  (``/digid/artifact-resolution`` on the back node). A party of its own as far as the
  protocol goes, lodged on this server's nodes.
* :mod:`.assertion_consumer` — this server as DigiD's service provider: the
  ArtifactResolve / ArtifactResponse exchange, the :class:`Authenticator` seam and its
  HTTPS client, and the assertion consumer (``/oauth/digid/acs``) where the person comes
  back with the artifact and goes on to the beschikbaarheidstoets.
"""

from .assertion_consumer import (
    MAX_ARTIFACT_LENGTH,
    ArtifactResolutionClient,
    Authenticator,
    Outcome,
    Resolution,
)
from .simulator import ARTIFACT_TTL, DigidSimulator, Unresolvable

__all__ = [
    "ARTIFACT_TTL",
    "MAX_ARTIFACT_LENGTH",
    "ArtifactResolutionClient",
    "Authenticator",
    "DigidSimulator",
    "Outcome",
    "Resolution",
    "Unresolvable",
]
