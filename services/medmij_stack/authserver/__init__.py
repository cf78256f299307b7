"""DVA Authorization Server: the authorization endpoint and screens, and the token endpoint.

One retrieval's path through this package, in the order it happens::

    authorize.py                 GET /oauth/authorize: checked against OCL, ZAL and scope
                                 (oauth/server.py, oauth/clients.py, oauth/scopes.py), a flow
                                 in the browser's session (sessions.py), the landingspagina
    digid/simulator.py           DigiD's login screen: the person logs in, gets an artifact
    digid/assertion_consumer.py  back from DigiD: the artifact resolved over the back channel
    availability.py              the beschikbaarheidstoets at the DVA's resource server
    consent.py                   the toestemmingsverklaring, then the code
                                 (oauth/grant_types.py, grant_store.py)
    backchannel.py               POST /oauth/token: the code for tokens (oauth/grant_types.py,
                                 grant_store.py); POST /oauth/introspect: the resource server
                                 asks what a token stands for (oauth/endpoints.py)

Shared by these: frontchannel.py (the pages, the names shown, the flow a request acts on,
and the front channel's one refusal handler), errors.py (every refusal, as one tree),
eventlog.py (the ketenlog), runtime.py (what one server runs on) and app.py (the two apps,
front and back, with the steps mounted in this order).
"""
