"""The four MedMij lists: ZAL, OCL, GNL and Whitelist, as data (docs/protocol.md, "The lists").

Models (`models`), the project's XML schemas (`schemas`, files in `xsd/`), hardened
reading (`hardened`, `reader`) and writing (`writer`). Fetching the lists and keeping the
last good one is I/O and lives in `medmij_stack.runtime.lists`.
"""

from medmij_stack.protocol.lists.errors import ListRefused, ListValidationError
from medmij_stack.protocol.lists.hardened import DEFAULT_MAX_BYTES
from medmij_stack.protocol.lists.models import (
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
from medmij_stack.protocol.lists.reader import (
    parse_gnl,
    parse_list,
    parse_ocl,
    parse_whitelist,
    parse_zal,
)
from medmij_stack.protocol.lists.schemas import (
    SchemaDocument,
    ZalRelease,
    development_variant,
    load_schema,
    schema_document,
    schema_documents,
)
from medmij_stack.protocol.lists.writer import (
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
    "Gegevensdienst",
    "GegevensdienstNaam",
    "Gegevensdienstnamenlijst",
    "Interfaceversie",
    "ListKind",
    "ListRefused",
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
