"""The four MedMij lists: ZAL, OCL, GNL and Whitelist (docs/MEDMIJ.md section 2).

Models (`models`), the project's XML schemas (`schemas`, files in `xsd/`), hardened
reading (`hardened`, `reader`), writing (`writer`), the holder nodes keep their
lists in (`holder`) and fetching over HTTP (`fetch`).
"""

from medmij.lists.errors import ListRefused, ListValidationError
from medmij.lists.fetch import FetchError, fetch_document
from medmij.lists.hardened import DEFAULT_MAX_BYTES
from medmij.lists.holder import ListHolder, ListSet
from medmij.lists.models import (
    GNL_NAMESPACE,
    OCL_NAMESPACE,
    RELEASE2_AANBIEDERTYPE,
    RELEASE2_INTERFACEVERSIE,
    WHITELIST_NAMESPACE,
    ZAL_RELEASE2_NAMESPACE,
    ZAL_RELEASE3_NAMESPACE,
    Abonneren,
    Gegevensdienst,
    GegevensdienstNaam,
    Gegevensdienstnamenlijst,
    Interfaceversie,
    ListKind,
    MedMijList,
    OAuthclient,
    OAuthclientlist,
    Systeemrol,
    Whitelist,
    Zorgaanbieder,
    Zorgaanbiederslijst,
)
from medmij.lists.reader import (
    parse_gnl,
    parse_list,
    parse_ocl,
    parse_whitelist,
    parse_zal,
)
from medmij.lists.schemas import (
    SchemaDocument,
    ZalRelease,
    development_variant,
    load_schema,
    schema_document,
    schema_documents,
)
from medmij.lists.writer import (
    WhitelistShape,
    format_tijdstempel,
    write_gnl,
    write_list,
    write_ocl,
    write_whitelist,
    write_zal,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "GNL_NAMESPACE",
    "OCL_NAMESPACE",
    "RELEASE2_AANBIEDERTYPE",
    "RELEASE2_INTERFACEVERSIE",
    "WHITELIST_NAMESPACE",
    "ZAL_RELEASE2_NAMESPACE",
    "ZAL_RELEASE3_NAMESPACE",
    "Abonneren",
    "FetchError",
    "Gegevensdienst",
    "GegevensdienstNaam",
    "Gegevensdienstnamenlijst",
    "Interfaceversie",
    "ListHolder",
    "ListKind",
    "ListRefused",
    "ListSet",
    "ListValidationError",
    "MedMijList",
    "OAuthclient",
    "OAuthclientlist",
    "SchemaDocument",
    "Systeemrol",
    "Whitelist",
    "WhitelistShape",
    "ZalRelease",
    "Zorgaanbieder",
    "Zorgaanbiederslijst",
    "development_variant",
    "fetch_document",
    "format_tijdstempel",
    "load_schema",
    "parse_gnl",
    "parse_list",
    "parse_ocl",
    "parse_whitelist",
    "parse_zal",
    "schema_document",
    "schema_documents",
    "write_gnl",
    "write_list",
    "write_ocl",
    "write_whitelist",
    "write_zal",
]
