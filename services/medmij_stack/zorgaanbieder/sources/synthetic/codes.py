"""Code tables of the generator: systems, codes and the Dutch displays it shows.

The codes the BgZ queries filter on (catalogue 48) are spelled exactly as in those
queries; the zib value sets (``nictiz.fhir.nl.stu3.zib2017``, and the Vaccination-
Immunization value sets for R4) are where the other codes come from. Displays are
Dutch, as a Dutch PGO shows them.
"""

from __future__ import annotations

from typing import NamedTuple

from .fhir import Term

# --- systems -------------------------------------------------------------------------------

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ATC = "http://www.whocc.no/atc"
ACT_CODE = "http://hl7.org/fhir/v3/ActCode"
ACT_STATUS = "http://hl7.org/fhir/v3/ActStatus"
ADDRESS_USE = "http://hl7.org/fhir/v3/AddressUse"
PARTICIPATION_TYPE = "http://hl7.org/fhir/v3/ParticipationType"
OBSERVATION_CATEGORY = "http://hl7.org/fhir/observation-category"
INTERPRETATION = "http://hl7.org/fhir/v2/0078"
IDENTIFIER_TYPE = "http://hl7.org/fhir/identifier-type"
REQUEST_INTENT = "http://hl7.org/fhir/request-intent"
RECOMMENDATION_STATUS = "http://hl7.org/fhir/immunization-recommendation-status"
RECOMMENDATION_DATE = "http://hl7.org/fhir/immunization-recommendation-date-criterion"
PERFORMER_FUNCTION = "http://terminology.hl7.org/CodeSystem/v2-0443"
AGB_SPECIALISM = "urn:oid:2.16.840.1.113883.2.4.6.7"
ORGANIZATION_TYPE = "http://nictiz.nl/fhir/NamingSystem/organization-type"
COUNTRY_GBA = "urn:oid:2.16.840.1.113883.2.4.4.16.34"
INSURANCE_TYPE = "urn:oid:2.16.840.1.113883.2.4.3.11.60.101.5.1"
HOUSING_TYPE = "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4.13.1"
LIVING_WILL_TYPE = "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4.14.1"
TREATMENT_PERMITTED = "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4"
MEDICATION_USE_CATEGORY = "urn:oid:2.16.840.1.113883.2.4.3.11.60.20.77.5.3"
G_STANDARD_ROUTE = "urn:oid:2.16.840.1.113883.2.4.4.9"
G_STANDARD_UNIT = "urn:oid:2.16.840.1.113883.2.4.4.1.900.2"

URA = "http://fhir.nl/fhir/NamingSystem/ura"
UZOVI = "http://fhir.nl/fhir/NamingSystem/uzovi"
UZI_PERSON = "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers"
#: Identifiers of the generator's own records: RFC 3986 URIs (``urn:uuid:…``).
URI = "urn:ietf:rfc:3986"

# --- the codes the BgZ queries select on (catalogue 48) ------------------------------------

TREATMENT_DIRECTIVE = Term(SNOMED, "11291000146105", "Behandelaanwijzing")
LIVING_WILL = Term(SNOMED, "11341000146107", "Levenstestament en wilsverklaring in dossier")
FUNCTIONAL_FINDING = Term(SNOMED, "118228005", "Bevinding betreffende functioneren")
MENTAL_FINDING = Term(SNOMED, "384821006", "Bevinding betreffende mentaal functioneren")
LIVING_SITUATION = Term(SNOMED, "365508006", "Bevinding betreffende woonsituatie")
DRUG_USE = Term(SNOMED, "228366006", "Bevinding betreffende drugsgebruik")
ALCOHOL_USE = Term(SNOMED, "228273003", "Bevinding betreffende alcoholgebruik")
TOBACCO_USE = Term(SNOMED, "365980008", "Bevinding betreffende tabaksgebruik")
MEDICATION_USE = Term(MEDICATION_USE_CATEGORY, "6", "Medicatiegebruik")
MEDICATION_AGREEMENT = Term(SNOMED, "16076005", "Medicatieafspraak")
ADMINISTRATION_AGREEMENT = Term(SNOMED, "422037009", "Toedieningsafspraak")
BLOOD_PRESSURE = Term(LOINC, "85354-9", "Bloeddruk")
BODY_WEIGHT = Term(LOINC, "29463-7", "Lichaamsgewicht")
BODY_HEIGHT = Term(LOINC, "8302-2", "Lichaamslengte")
BODY_HEIGHT_STANDING = Term(LOINC, "8308-9", "Lichaamslengte staand")
BODY_HEIGHT_LYING = Term(LOINC, "8306-3", "Lichaamslengte liggend")
LABORATORY_CHEMISTRY = Term(SNOMED, "275711006", "Klinisch-chemisch onderzoek")
SURGICAL_PROCEDURE = Term(SNOMED, "387713003", "Chirurgische verrichting")
INPATIENT = Term(ACT_CODE, "IMP", "Klinische opname")
INPATIENT_ACUTE = Term(ACT_CODE, "ACUTE", "Acute klinische opname")
INPATIENT_NON_ACUTE = Term(ACT_CODE, "NONAC", "Niet-acute klinische opname")
AMBULATORY = Term(ACT_CODE, "AMB", "Poliklinisch contact")

# --- other fixed codes -----------------------------------------------------------------------

LABORATORY_FINDING = Term(SNOMED, "49581000146104", "Bevinding betreffende laboratoriumonderzoek")
DIAGNOSTIC_PROCEDURE = Term(SNOMED, "103693007", "Diagnostische verrichting")
VITAL_SIGNS = Term(OBSERVATION_CATEGORY, "vital-signs", "Vitale functies")
SYSTOLIC = Term(LOINC, "8480-6", "Systolische bloeddruk")
DIASTOLIC = Term(LOINC, "8462-4", "Diastolische bloeddruk")
PATIENT_PERSON = Term(SNOMED, "116154003", "Patiënt")
GENERAL_PRACTICE = Term(AGB_SPECIALISM, "0100", "Huisartsen, niet nader gespecificeerd")
GP_PRACTICE_TYPE = Term(ORGANIZATION_TYPE, "Z3", "Huisartspraktijk")
HOSPITAL_TYPE = Term(ORGANIZATION_TYPE, "V4", "Ziekenhuis")
PHARMACY_TYPE = Term(ORGANIZATION_TYPE, "J8", "Openbare apotheek")
PREVENTIVE_CARE_TYPE = Term(ORGANIZATION_TYPE, "P6", "Preventieve gezondheidszorg")
NETHERLANDS = Term(COUNTRY_GBA, "6030", "Nederland")
HOME_ADDRESS = Term(ADDRESS_USE, "PHYS", "Woonadres")
MOBILE_PHONE = Term(ADDRESS_USE, "MC", "Mobiel telefoonnummer")
BASIC_INSURANCE = Term(INSURANCE_TYPE, "B", "Basisverzekering")
SUPPLEMENTARY_INSURANCE = Term(INSURANCE_TYPE, "A", "Aanvullende verzekering")
SERIAL_NUMBER = Term(IDENTIFIER_TYPE, "SNO", "Serienummer")
ORDER = Term(REQUEST_INTENT, "order", "Opdracht")
REQUESTED = Term(SNOMED, "385644000", "Aangevraagd")
PERFORMER = Term(PARTICIPATION_TYPE, "PRF", "Uitvoerder")
HOME = Term(SNOMED, "264362003", "Thuis")
DUE = Term(RECOMMENDATION_STATUS, "due", "Gepland")
RECOMMENDED = Term(RECOMMENDATION_DATE, "recommended", "Aanbevolen datum")
ORAL = Term(G_STANDARD_ROUTE, "9", "Oraal")
INTRAMUSCULAR = Term(G_STANDARD_ROUTE, "2", "Intramusculair")
ADMINISTERING_PROVIDER = Term(PERFORMER_FUNCTION, "AP", "Toedienende zorgaanbieder")
UPPER_ARM = Term(SNOMED, "40983000", "Bovenarm")
LEFT = Term(SNOMED, "7771000", "Links")
RIGHT = Term(SNOMED, "24028007", "Rechts")
NORMAL = (Term(INTERPRETATION, "N", "Normaal"), Term(SNOMED, "17621005", "Normaal"))
HIGH = (
    Term(INTERPRETATION, "H", "Hoog"),
    Term(SNOMED, "281302008", "Boven referentiebereik"),
)
LOW = (
    Term(INTERPRETATION, "L", "Laag"),
    Term(SNOMED, "281300000", "Beneden referentiebereik"),
)
PIECE = ("stuk", "245")  # G-Standaard unit, for doses of tablets and capsules

# --- tables ----------------------------------------------------------------------------------


class Specialism(NamedTuple):
    term: Term  # AGB specialism
    department: str  # name of the hospital department


SPECIALISMS = (
    Specialism(Term(AGB_SPECIALISM, "0303", "Heelkunde"), "Chirurgie"),
    Specialism(Term(AGB_SPECIALISM, "0305", "Orthopedie"), "Orthopedie"),
    Specialism(Term(AGB_SPECIALISM, "0313", "Inwendige geneeskunde"), "Interne geneeskunde"),
    Specialism(Term(AGB_SPECIALISM, "0320", "Cardiologie"), "Cardiologie"),
    Specialism(Term(AGB_SPECIALISM, "0322", "Longziekten"), "Longgeneeskunde"),
    Specialism(Term(AGB_SPECIALISM, "0330", "Neurologie"), "Neurologie"),
    Specialism(Term(AGB_SPECIALISM, "0301", "Oogheelkunde"), "Oogheelkunde"),
    Specialism(Term(AGB_SPECIALISM, "0318", "Maag-darm-leverziekten"), "Maag-darm-lever"),
)


class Problem(NamedTuple):
    term: Term
    kind: Term  # ProbleemTypeCodelijst
    chronic: bool


_DIAGNOSIS = Term(SNOMED, "282291009", "Diagnose")
_SYMPTOM = Term(SNOMED, "418799008", "Symptoom")
_COMPLAINT = Term(SNOMED, "409586006", "Klacht")

PROBLEMS = (
    Problem(Term(SNOMED, "38341003", "Hypertensie"), _DIAGNOSIS, True),
    Problem(Term(SNOMED, "44054006", "Diabetes mellitus type 2"), _DIAGNOSIS, True),
    Problem(Term(SNOMED, "195967001", "Astma"), _DIAGNOSIS, True),
    Problem(Term(SNOMED, "13645005", "COPD"), _DIAGNOSIS, True),
    Problem(Term(SNOMED, "35489007", "Depressie"), _DIAGNOSIS, False),
    Problem(Term(SNOMED, "396275006", "Artrose"), _DIAGNOSIS, True),
    Problem(Term(SNOMED, "49436004", "Atriumfibrilleren"), _DIAGNOSIS, True),
    Problem(Term(SNOMED, "55822004", "Hyperlipidemie"), _DIAGNOSIS, True),
    Problem(Term(SNOMED, "84114007", "Hartfalen"), _DIAGNOSIS, True),
    Problem(Term(SNOMED, "40930008", "Hypothyreoïdie"), _DIAGNOSIS, True),
    Problem(Term(SNOMED, "69896004", "Reumatoïde artritis"), _DIAGNOSIS, True),
    Problem(Term(SNOMED, "235595009", "Refluxziekte"), _DIAGNOSIS, False),
    Problem(Term(SNOMED, "37796009", "Migraine"), _DIAGNOSIS, True),
    Problem(Term(SNOMED, "197480006", "Angststoornis"), _DIAGNOSIS, False),
    Problem(Term(SNOMED, "709044004", "Chronische nierschade"), _DIAGNOSIS, True),
    Problem(Term(SNOMED, "64859006", "Osteoporose"), _DIAGNOSIS, True),
    Problem(Term(SNOMED, "414916001", "Obesitas"), _DIAGNOSIS, True),
    Problem(Term(SNOMED, "230690007", "Beroerte"), _DIAGNOSIS, False),
    Problem(Term(SNOMED, "22298006", "Hartinfarct"), _DIAGNOSIS, False),
    Problem(Term(SNOMED, "161891005", "Rugpijn"), _COMPLAINT, False),
    Problem(Term(SNOMED, "25064002", "Hoofdpijn"), _SYMPTOM, False),
    Problem(Term(SNOMED, "267036007", "Kortademigheid"), _SYMPTOM, False),
)

ACTIVE_PROBLEM = Term(SNOMED, "55561003", "Actueel")
INACTIVE_PROBLEM = Term(SNOMED, "73425007", "Niet actueel")

TREATMENTS = (
    Term(SNOMED, "89666000", "Reanimatie"),
    Term(SNOMED, "40617009", "Kunstmatige beademing"),
    Term(SNOMED, "305351004", "Opname op intensive care"),
    Term(SNOMED, "116762002", "Toediening van bloedproducten"),
)
PERMITTED = {
    "JA": Term(TREATMENT_PERMITTED, "JA", "Ja"),
    "JA_MAAR": Term(TREATMENT_PERMITTED, "JA_MAAR", "Ja, maar met beperkingen"),
    "NEE": Term(TREATMENT_PERMITTED, "NEE", "Nee"),
}
RESTRICTIONS = (
    "Eerst overleggen met de partner",
    "Alleen na overleg met de eigen huisarts",
    "Niet langer dan twee weken",
)

LIVING_WILLS = (
    Term(LIVING_WILL_TYPE, "NR", "Niet-reanimerenverklaring"),
    Term(LIVING_WILL_TYPE, "VOL", "Volmacht"),
    Term(LIVING_WILL_TYPE, "VERB", "Behandelverbod"),
    Term(LIVING_WILL_TYPE, "EU", "Euthanasieverzoek"),
    Term(LIVING_WILL_TYPE, "DO", "Verklaring donorschap"),
)


class Status(NamedTuple):
    category: Term
    code: Term
    values: tuple[Term, ...]


FUNCTIONAL_STATUSES = (
    Status(
        FUNCTIONAL_FINDING,
        Term(SNOMED, "282097004", "Vermogen om te lopen"),
        (
            Term(SNOMED, "8510008", "Verminderde mobiliteit"),
            Term(SNOMED, "282145008", "Niet in staat om te lopen"),
        ),
    ),
    Status(
        FUNCTIONAL_FINDING,
        Term(SNOMED, "47078008", "Gehoorfunctie"),
        (Term(SNOMED, "15188001", "Slechthorendheid"),),
    ),
    Status(
        FUNCTIONAL_FINDING,
        Term(SNOMED, "363983007", "Gezichtsscherpte"),
        (Term(SNOMED, "397540003", "Slechtziendheid"),),
    ),
    Status(
        MENTAL_FINDING,
        Term(SNOMED, "311465003", "Cognitieve functies"),
        (
            Term(SNOMED, "386806002", "Verminderde cognitie"),
            Term(SNOMED, "386807006", "Geheugenstoornis"),
        ),
    ),
    Status(
        MENTAL_FINDING,
        Term(SNOMED, "285854004", "Emoties"),
        (Term(SNOMED, "366979004", "Neerslachtige stemming"),),
    ),
)

HOUSING = (
    Term(HOUSING_TYPE, "EENGEZW", "Eengezinswoning"),
    Term(HOUSING_TYPE, "FLATW", "Appartement of flatwoning"),
    Term(HOUSING_TYPE, "BOVENW", "Bovenwoning"),
    Term(HOUSING_TYPE, "BENEDENW", "Benedenwoning"),
    Term(HOUSING_TYPE, "AANLW", "Aanleunwoning"),
    Term(HOUSING_TYPE, "WOONB", "Woonboot"),
)

DRUG_STATUSES = (
    Term(SNOMED, "228368007", "Heeft nooit drugs gebruikt"),
    Term(SNOMED, "44870007", "Heeft in het verleden drugs gebruikt"),
    Term(SNOMED, "361055000", "Gebruikt drugs"),
)
DRUG_OR_MEDICINE = Term(SNOMED, "410942007", "Drug of geneesmiddel")
DRUGS = (
    Term(SNOMED, "398705004", "Cannabis"),
    Term(SNOMED, "387085005", "Cocaïne"),
    Term(SNOMED, "288459003", "MDMA"),
    Term(SNOMED, "703842006", "Amfetamine"),
)

ALCOHOL_STATUSES = (
    Term(SNOMED, "219006", "Drinkt alcohol"),
    Term(SNOMED, "105542008", "Drinkt momenteel geen alcohol"),
    Term(SNOMED, "82581004", "Voormalig drinker"),
    Term(SNOMED, "228274009", "Heeft nooit alcohol gedronken"),
)
ALCOHOL_AMOUNT = Term(SNOMED, "160573003", "Hoeveelheid alcoholgebruik")

TOBACCO_STATUSES = (
    Term(SNOMED, "449868002", "Rookt dagelijks"),
    Term(SNOMED, "230059006", "Rookt af en toe"),
    Term(SNOMED, "8517006", "Voormalig roker"),
    Term(SNOMED, "266919005", "Heeft nooit gerookt"),
)
TOBACCO_TYPE = Term(SNOMED, "53661000146106", "Soort tabaksgebruik")
TOBACCO_AMOUNT = Term(SNOMED, "266918002", "Hoeveelheid tabaksgebruik")
PACK_YEARS = Term(SNOMED, "401201003", "Pakjaren")
TOBACCO_TYPES = (
    Term(SNOMED, "65568007", "Rookt sigaretten"),
    Term(SNOMED, "59978006", "Rookt sigaren"),
    Term(SNOMED, "82302008", "Rookt pijp"),
    Term(SNOMED, "160619003", "Rookt shag"),
)

NUTRITION_ADVICE = (
    "Zoutbeperkt dieet",
    "Energieverrijkt dieet",
    "Eiwitverrijkt dieet",
    "Vochtbeperking 1,5 liter per dag",
    "Glutenvrij dieet",
    "Koolhydraatbewust eten",
)

ALERT_TYPE = Term(LOINC, "74018-3", "Waarschuwing")
CONDITION_ALERT_TYPE = Term(LOINC, "75323-6", "Aandoening")
ALERTS = (
    (ALERT_TYPE, Term(SNOMED, "432415000", "Drager van MRSA")),
    (ALERT_TYPE, Term(SNOMED, "431109006", "Drager van VRE")),
    (ALERT_TYPE, Term(SNOMED, "129839007", "Valrisico")),
    (CONDITION_ALERT_TYPE, Term(SNOMED, "441509002", "Pacemaker aanwezig")),
)


class Allergen(NamedTuple):
    term: Term
    category: str  # FHIR allergy-intolerance-category
    category_term: Term  # AllergieCategorieCodelijst


_FOOD = Term(SNOMED, "418471000", "Neiging tot ongewenste reacties op voedsel")
_DRUG = Term(SNOMED, "419511003", "Neiging tot ongewenste reacties op geneesmiddel")
_ENVIRONMENT = Term(SNOMED, "426232007", "Omgevingsallergie")

ALLERGENS = (
    Allergen(Term(SNOMED, "764146007", "Penicilline"), "medication", _DRUG),
    Allergen(Term(SNOMED, "387458008", "Acetylsalicylzuur"), "medication", _DRUG),
    Allergen(Term(SNOMED, "387207008", "Ibuprofen"), "medication", _DRUG),
    Allergen(Term(SNOMED, "256349002", "Pinda"), "food", _FOOD),
    Allergen(Term(SNOMED, "102263004", "Ei"), "food", _FOOD),
    Allergen(Term(SNOMED, "3718001", "Koemelk"), "food", _FOOD),
    Allergen(Term(SNOMED, "256259004", "Pollen"), "environment", _ENVIRONMENT),
    Allergen(Term(SNOMED, "111088007", "Latex"), "environment", _ENVIRONMENT),
)
REACTIONS = (
    Term(SNOMED, "271807003", "Huiduitslag"),
    Term(SNOMED, "126485001", "Netelroos"),
    Term(SNOMED, "39579001", "Anafylaxie"),
    Term(SNOMED, "267036007", "Kortademigheid"),
    Term(SNOMED, "422587007", "Misselijkheid"),
    Term(SNOMED, "418290006", "Jeuk"),
)
SEVERITIES = {
    "mild": Term(SNOMED, "255604002", "Licht"),
    "moderate": Term(SNOMED, "6736007", "Matig"),
    "severe": Term(SNOMED, "24484000", "Ernstig"),
}


class Product(NamedTuple):
    atc: Term
    name: str  # the product as the pharmacy names it
    dose: str  # the usual instruction
    per_day: int


PRODUCTS = (
    Product(Term(ATC, "C09AA03", "lisinopril"), "Lisinopril tablet 10mg", "tablet", 1),
    Product(Term(ATC, "C10AA01", "simvastatine"), "Simvastatine tablet 40mg", "tablet", 1),
    Product(Term(ATC, "A10BA02", "metformine"), "Metformine tablet 500mg", "tablet", 2),
    Product(Term(ATC, "N02BE01", "paracetamol"), "Paracetamol tablet 500mg", "tablet", 3),
    Product(Term(ATC, "C07AB02", "metoprolol"), "Metoprolol tablet 50mg", "tablet", 1),
    Product(
        Term(ATC, "B01AC06", "acetylsalicylzuur"), "Acetylsalicylzuur tablet 80mg", "tablet", 1
    ),
    Product(Term(ATC, "A02BC01", "omeprazol"), "Omeprazol capsule 20mg", "capsule", 1),
    Product(Term(ATC, "C03CA01", "furosemide"), "Furosemide tablet 40mg", "tablet", 1),
    Product(Term(ATC, "N06AB06", "sertraline"), "Sertraline tablet 50mg", "tablet", 1),
    Product(Term(ATC, "H03AA01", "levothyroxine"), "Levothyroxine tablet 50µg", "tablet", 1),
    Product(Term(ATC, "M01AE01", "ibuprofen"), "Ibuprofen tablet 400mg", "tablet", 3),
    Product(Term(ATC, "C08CA01", "amlodipine"), "Amlodipine tablet 5mg", "tablet", 1),
)

DEVICES_IN_USE = (
    Term(SNOMED, "6012004", "Hoortoestel"),
    Term(SNOMED, "14106009", "Pacemaker"),
    Term(SNOMED, "304120007", "Heupprothese"),
    Term(SNOMED, "50121007", "Bril"),
    Term(SNOMED, "87405001", "Wandelstok"),
    Term(SNOMED, "43252007", "Cochleair implantaat"),
)
DEVICES_TO_REQUEST = (
    Term(SNOMED, "705417005", "Rollator"),
    Term(SNOMED, "58938008", "Rolstoel"),
    Term(SNOMED, "6012004", "Hoortoestel"),
    Term(SNOMED, "50121007", "Bril"),
)

VACCINES = (  # STU3 zib-Vaccination: ATC
    Term(ATC, "J07BB02", "Influenzavaccin"),
    Term(ATC, "J07BX03", "Covid-19-vaccin"),
    Term(ATC, "J07AM01", "Tetanusvaccin"),
    Term(ATC, "J07BC02", "Hepatitis A-vaccin"),
    Term(ATC, "J07BC01", "Hepatitis B-vaccin"),
    Term(ATC, "J07AL02", "Pneumokokkenvaccin"),
    Term(ATC, "J07BL01", "Gelekoortsvaccin"),
    Term(ATC, "J07AP03", "Buiktyfusvaccin"),
)
RECOMMENDATION_ORDER_STATUS = REQUESTED


class LabTest(NamedTuple):
    term: Term
    unit: str
    ucum: str
    low: float | None
    high: float | None
    decimals: int


class LabPanel(NamedTuple):
    term: Term | None  # None: the tests stand alone, without a panel observation
    specimen: Term
    tests: tuple[LabTest, ...]


BLOOD = Term(SNOMED, "87612001", "Bloed")
SERUM = Term(SNOMED, "67922002", "Serum")

LAB_PANELS = (
    LabPanel(
        Term(LOINC, "24362-6", "Nierfunctie"),
        SERUM,
        (
            LabTest(Term(LOINC, "14682-9", "Creatinine"), "µmol/l", "umol/L", 60, 110, 0),
            LabTest(Term(LOINC, "2823-3", "Kalium"), "mmol/l", "mmol/L", 3.5, 5.0, 1),
            LabTest(Term(LOINC, "2951-2", "Natrium"), "mmol/l", "mmol/L", 135, 145, 0),
            LabTest(
                Term(LOINC, "62238-1", "eGFR (CKD-EPI)"),
                "ml/min/1,73m²",
                "mL/min/{1.73_m2}",
                60,
                None,
                0,
            ),
        ),
    ),
    LabPanel(
        Term(LOINC, "58410-2", "Bloedbeeld"),
        BLOOD,
        (
            LabTest(Term(LOINC, "59260-0", "Hemoglobine"), "mmol/l", "mmol/L", 7.5, 10.5, 1),
            LabTest(Term(LOINC, "6690-2", "Leukocyten"), "10^9/l", "10*9/L", 4.0, 10.0, 1),
            LabTest(Term(LOINC, "777-3", "Trombocyten"), "10^9/l", "10*9/L", 150, 400, 0),
        ),
    ),
    LabPanel(
        Term(LOINC, "24331-1", "Lipidenspectrum"),
        SERUM,
        (
            LabTest(Term(LOINC, "14647-2", "Cholesterol totaal"), "mmol/l", "mmol/L", None, 5.0, 1),
            LabTest(Term(LOINC, "14646-4", "HDL-cholesterol"), "mmol/l", "mmol/L", 1.0, None, 1),
            LabTest(Term(LOINC, "22748-8", "LDL-cholesterol"), "mmol/l", "mmol/L", None, 3.0, 1),
            LabTest(Term(LOINC, "14927-8", "Triglyceriden"), "mmol/l", "mmol/L", None, 2.0, 1),
        ),
    ),
    LabPanel(
        None,
        BLOOD,
        (
            LabTest(Term(LOINC, "15074-8", "Glucose"), "mmol/l", "mmol/L", 4.0, 7.8, 1),
            LabTest(Term(LOINC, "59261-8", "HbA1c"), "mmol/mol", "mmol/mol", 20, 42, 0),
        ),
    ),
    LabPanel(
        None,
        SERUM,
        (
            LabTest(Term(LOINC, "1988-5", "CRP"), "mg/l", "mg/L", None, 10, 0),
            LabTest(Term(LOINC, "3016-3", "TSH"), "mU/l", "m[IU]/L", 0.4, 4.0, 2),
        ),
    ),
)


class Operation(NamedTuple):
    term: Term
    category: Term
    specialism: str  # AGB code of the department that performs it


OPERATIONS = (
    Operation(Term(SNOMED, "80146002", "Appendectomie"), SURGICAL_PROCEDURE, "0303"),
    Operation(Term(SNOMED, "38102005", "Verwijderen van de galblaas"), SURGICAL_PROCEDURE, "0303"),
    Operation(Term(SNOMED, "44558001", "Liesbreukoperatie"), SURGICAL_PROCEDURE, "0303"),
    Operation(Term(SNOMED, "52734007", "Totale heupprothese"), SURGICAL_PROCEDURE, "0305"),
    Operation(Term(SNOMED, "609588000", "Totale knieprothese"), SURGICAL_PROCEDURE, "0305"),
    Operation(Term(SNOMED, "54885007", "Staaroperatie"), SURGICAL_PROCEDURE, "0301"),
    Operation(Term(SNOMED, "232717009", "Coronaire bypassoperatie"), SURGICAL_PROCEDURE, "0320"),
    Operation(
        Term(SNOMED, "173422009", "Verwijderen van de keelamandelen"), SURGICAL_PROCEDURE, "0303"
    ),
    Operation(Term(SNOMED, "73761001", "Coloscopie"), DIAGNOSTIC_PROCEDURE, "0318"),
)
PLANNED = (
    Operation(Term(SNOMED, "73761001", "Coloscopie"), DIAGNOSTIC_PROCEDURE, "0318"),
    Operation(Term(SNOMED, "40701008", "Echocardiografie"), DIAGNOSTIC_PROCEDURE, "0320"),
    Operation(Term(SNOMED, "168537006", "Röntgenfoto van de thorax"), DIAGNOSTIC_PROCEDURE, "0322"),
    Operation(Term(SNOMED, "54885007", "Staaroperatie"), SURGICAL_PROCEDURE, "0301"),
    Operation(Term(SNOMED, "609588000", "Totale knieprothese"), SURGICAL_PROCEDURE, "0305"),
)

# --- R4 Vaccinaties (Vaccination-Immunization 2.x) ---------------------------------------------


class Vaccine(NamedTuple):
    product: Term  # SNOMED product, imm-PharmaceuticalProduct and vaccineCode
    disease: Term | None  # ZiekteWaarTegenGevaccineerdWordtWaardenlijst
    lot_prefix: str


VACCINES_R4 = {
    "influenza": Vaccine(
        Term(SNOMED, "836377006", "Vaccin met antigeen van influenzavirus"),
        Term(SNOMED, "6142004", "Influenza"),
        "FLU",
    ),
    "covid": Vaccine(
        Term(SNOMED, "28531000087107", "Vaccin tegen SARS-CoV-2"),
        Term(SNOMED, "840539006", "COVID-19"),
        "CV",
    ),
    "pneumococcus": Vaccine(
        Term(SNOMED, "836398006", "Vaccin met antigeen van Streptococcus pneumoniae"),
        Term(SNOMED, "16814004", "Pneumokokkeninfectie"),
        "PNC",
    ),
    "dktp": Vaccine(
        Term(SNOMED, "871878002", "DKTP-vaccin"),
        Term(SNOMED, "76902006", "Tetanus"),
        "DKTP",
    ),
    "hepatitis_a": Vaccine(
        Term(SNOMED, "836375003", "Vaccin met antigeen van hepatitis A-virus"),
        Term(SNOMED, "128241005", "Hepatitis"),
        "HAV",
    ),
    "hpv": Vaccine(
        Term(SNOMED, "836379009", "Vaccin met antigeen van humaan papillomavirus"),
        None,
        "HPV",
    ),
}
PROGRAMME = Term(SNOMED, "159741000146107", "Immunisatie nodig vanuit vaccinatieprogramma")
NATIONAL_PROGRAMME = Term(
    SNOMED, "159731000146104", "Immunisatie nodig vanuit Rijksvaccinatieprogramma"
)
TRAVEL = Term(SNOMED, "14747002", "Reizigersvaccinatie")
FRAIL_ELDERLY = Term(SNOMED, "404904002", "Kwetsbare oudere")
