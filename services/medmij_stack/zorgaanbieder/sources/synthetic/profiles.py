"""Profile canonicals the generated resources claim in ``meta.profile``.

STU3 (gegevensdienst 48, BgZ 3.0): the zib2017 and nl-core profiles of package
``nictiz.fhir.nl.stu3.zib2017`` that the BgZ qualification fixtures declare. R4
(gegevensdienst 63, Vaccinaties): the Vaccination-Immunization 2.x profiles and the
R4 nl-core profiles they build on (docs/qualification.md#fhir-versions).
"""

from __future__ import annotations

_NICTIZ = "http://nictiz.nl/fhir/StructureDefinition/"
_NL_CORE = "http://fhir.nl/fhir/StructureDefinition/"

# STU3, BgZ
NL_CORE_PATIENT = _NL_CORE + "nl-core-patient"
NL_CORE_PRACTITIONER = _NL_CORE + "nl-core-practitioner"
NL_CORE_PRACTITIONERROLE = _NL_CORE + "nl-core-practitionerrole"
NL_CORE_ORGANIZATION = _NL_CORE + "nl-core-organization"
NL_CORE_LOCATION = _NL_CORE + "nl-core-location"
PAYER = _NICTIZ + "zib-Payer"
TREATMENT_DIRECTIVE = _NICTIZ + "zib-TreatmentDirective"
ADVANCE_DIRECTIVE = _NICTIZ + "zib-AdvanceDirective"
FUNCTIONAL_OR_MENTAL_STATUS = _NICTIZ + "zib-FunctionalOrMentalStatus"
PROBLEM = _NICTIZ + "zib-Problem"
LIVING_SITUATION = _NICTIZ + "zib-LivingSituation"
DRUG_USE = _NICTIZ + "zib-DrugUse"
ALCOHOL_USE = _NICTIZ + "zib-AlcoholUse"
TOBACCO_USE = _NICTIZ + "zib-TobaccoUse"
NUTRITION_ADVICE = _NICTIZ + "zib-NutritionAdvice"
ALERT = _NICTIZ + "zib-Alert"
ALLERGY_INTOLERANCE = _NICTIZ + "zib-AllergyIntolerance"
MEDICATION_USE = _NICTIZ + "zib-MedicationUse"
MEDICATION_AGREEMENT = _NICTIZ + "zib-MedicationAgreement"
ADMINISTRATION_AGREEMENT = _NICTIZ + "zib-AdministrationAgreement"
PRODUCT = _NICTIZ + "zib-Product"
MEDICAL_DEVICE = _NICTIZ + "zib-MedicalDevice"
MEDICAL_DEVICE_PRODUCT = _NICTIZ + "zib-MedicalDeviceProduct"
MEDICAL_DEVICE_REQUEST = _NICTIZ + "zib-MedicalDeviceRequest"
VACCINATION = _NICTIZ + "zib-Vaccination"
VACCINATION_RECOMMENDATION = _NICTIZ + "zib-VaccinationRecommendation"
BLOOD_PRESSURE = _NICTIZ + "zib-BloodPressure"
BODY_WEIGHT = _NICTIZ + "zib-BodyWeight"
BODY_HEIGHT = _NICTIZ + "zib-BodyHeight"
LABORATORY_TEST_RESULT = _NICTIZ + "zib-LaboratoryTestResult-Observation"
SPECIMEN = _NICTIZ + "zib-LaboratoryTestResult-Specimen"
PROCEDURE = _NICTIZ + "zib-Procedure"
ENCOUNTER = _NICTIZ + "zib-Encounter"
PROCEDURE_REQUEST = _NICTIZ + "zib-ProcedureRequest"
APPOINTMENT = _NICTIZ + "eAfspraak-Appointment"

# STU3 extensions
PRACTITIONERROLE_REFERENCE = _NICTIZ + "practitionerrole-reference"
CODE_SPECIFICATION = _NICTIZ + "code-specification"
COMMENT = _NICTIZ + "Comment"
TREATMENT_DIRECTIVE_VERIFICATION = _NICTIZ + "zib-TreatmentDirective-Verification"
TREATMENT_DIRECTIVE_TREATMENT = _NICTIZ + "zib-TreatmentDirective-Treatment"
TREATMENT_DIRECTIVE_PERMITTED = _NICTIZ + "zib-TreatmentDirective-TreatmentPermitted"
TREATMENT_DIRECTIVE_RESTRICTIONS = _NICTIZ + "zib-TreatmentDirective-Restrictions"
NUTRITION_ADVICE_EXPLANATION = _NICTIZ + "zib-NutritionAdvice-Explanation"
MEDICATION_PERIOD_OF_USE = _NICTIZ + "zib-Medication-PeriodOfUse"
MEDICATION_USE_PRESCRIBER = _NICTIZ + "zib-MedicationUse-Prescriber"
MEDICATION_USE_AS_AGREED = _NICTIZ + "zib-MedicationUse-AsAgreedIndicator"
ADMINISTRATION_AGREEMENT_AUTHORED_ON = _NICTIZ + "zib-AdministrationAgreement-AuthoredOn"
MEDICAL_DEVICE_ORGANIZATION = _NICTIZ + "zib-MedicalDevice-Organization"
VACCINATION_RECOMMENDATION_ORDER_STATUS = _NICTIZ + "zib-VaccinationRecommendation-OrderStatus"
ADDRESS_TYPE = _NICTIZ + "zib-AddressInformation-AddressType"
TELECOM_TYPE = _NICTIZ + "zib-ContactInformation-TelecomType"

# Both releases
HUMANNAME_ASSEMBLY_ORDER = "http://hl7.org/fhir/StructureDefinition/humanname-assembly-order"
HUMANNAME_OWN_PREFIX = "http://hl7.org/fhir/StructureDefinition/humanname-own-prefix"
HUMANNAME_OWN_NAME = "http://hl7.org/fhir/StructureDefinition/humanname-own-name"
EN_QUALIFIER = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-qualifier"
ADXP_STREET_NAME = "http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-streetName"
ADXP_HOUSE_NUMBER = "http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-houseNumber"

# R4, Vaccinaties
NL_CORE_PATIENT_R4 = _NICTIZ + "nl-core-Patient"
HEALTHCARE_PROVIDER = _NICTIZ + "nl-core-HealthcareProvider"
HEALTHCARE_PROVIDER_ORGANIZATION = _NICTIZ + "nl-core-HealthcareProvider-Organization"
VACCINATION_EVENT = _NICTIZ + "imm-Vaccination-event"
PHARMACEUTICAL_PRODUCT = _NICTIZ + "imm-PharmaceuticalProduct"
PHARMACEUTICAL_PRODUCT_EXTENSION = _NICTIZ + "ext-imm-Vaccination.PharmaceuticalProduct"
ANATOMICAL_LOCATION_LATERALITY = _NICTIZ + "ext-AnatomicalLocation.Laterality"
