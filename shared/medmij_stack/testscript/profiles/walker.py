"""Validating an instance against a profile by walking its differential.

The profile folders hold differentials only (no snapshots), so a profile is checked as
the stack of differentials from it down to the base resource: each differential only
tightens its base, so every rule in every layer applies to the instance. The base
resource itself is checked by :mod:`medmij_stack.testscript.profiles.base`.

Checked, per differential element, at every place in the instance the element id names:

* cardinality (``min``, ``max``), per parent element, slices included;
* ``fixed[x]`` (exact) and ``pattern[x]`` (the instance contains the pattern);
* the allowed types of a choice element (``value[x]``), and the resource type a
  ``Reference`` points to, against its ``targetProfile``; when the target is in the
  Bundle (or contained), that it conforms to the target profile;
* extensions: a slice of ``extension`` is the extensions with the URL of its profile;
  each is validated against that extension's StructureDefinition when it is in the
  folder, as is any element whose type names a datatype profile;
* ``required`` bindings, when the ValueSet is in the folder with its codes written out
  (:mod:`medmij_stack.testscript.profiles.valueset`);
* ``maxLength``; invariants (``constraint.expression``) that fhirpathpy can evaluate.

Slices are decided by their discriminator: ``value``/``pattern`` (also when the value
comes from the slice's type profile), ``exists``, ``type``, and ``profile`` (by
conformance to the rules this walk checks; for ``resolve()``, of the resource in the
Bundle or contained).

Not checked, and listed in the report per profile: slices whose membership cannot be
decided (a reference outside the Bundle, FHIRPath functions in a discriminator path),
invariants that fhirpathpy cannot evaluate or that give no boolean, bindings to
ValueSets that use filters or are missing, extensible and preferred bindings (advice,
not rules), whether a resource outside the Bundle conforms to a target profile, closed
and ordered slicing, ``minValue``/``maxValue``, and profiles not in the folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript.errors import FhirPathError
from medmij_stack.testscript.fhirpath import FhirPath
from medmij_stack.testscript.profiles.elements import (
    canonicals,
    contains_pattern,
    elements_of,
    equals_fixed,
    fixed_or_pattern,
    id_of,
    reference_type,
    type_matches,
    types_of,
    value_set_of,
)
from medmij_stack.testscript.profiles.navigation import (
    Node,
    Segment,
    children,
    choice_type,
    parse_id,
    values_at,
)
from medmij_stack.testscript.profiles.registry import ProfileRegistry
from medmij_stack.testscript.profiles.report import ValidationReport
from medmij_stack.testscript.profiles.valueset import expand
from medmij_stack.testscript.structure import Structure, structure_for

__all__ = ["Resolver", "validate_profile"]

_BASE = "http://hl7.org/fhir/StructureDefinition/"

Resolver = Callable[[str], dict[str, Any] | None]
"""Finds the resource a reference (``Type/id`` or an absolute URL) points to."""
_MAX_CHAIN = 16
_MAX_NESTING = 6
_SHOWN = 6


@cache
def _fhirpath(version: FhirVersion) -> FhirPath:
    return FhirPath(version)


def _short(url: str) -> str:
    return url.rsplit("/", 1)[-1]


@dataclass
class _Notes:
    """Not-checked items, grouped per profile and kind so a report stays readable."""

    items: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def add(self, profile: str, kind: str, item: str) -> None:
        listed = self.items.setdefault((profile, kind), [])
        if item not in listed:
            listed.append(item)

    def emit(self, report: ValidationReport) -> None:
        for (profile, kind), listed in self.items.items():
            shown = "; ".join(listed[:_SHOWN])
            more = f"; and {len(listed) - _SHOWN} more" if len(listed) > _SHOWN else ""
            report.skip(f"{profile}: {kind}: {shown}{more}")


@dataclass
class _Walk:
    registry: ProfileRegistry
    version: FhirVersion
    structure: Structure
    report: ValidationReport
    notes: _Notes
    nesting: int = 0
    resolve: Resolver | None = None
    resource: dict[str, Any] | None = None
    """The resource being validated, for its contained resources."""
    verdicts: dict[tuple[int, str], bool] = field(default_factory=dict)
    """Conformance of a resolved resource (by identity) to a profile, judged once."""

    def inner(self, report: ValidationReport | None = None) -> _Walk:
        """The same walk one profile deeper (optionally into a scratch report)."""
        return replace(
            self,
            report=report if report is not None else self.report,
            notes=self.notes if report is None else _Notes(),
            nesting=self.nesting + 1,
        )

    def target(self, reference: str) -> dict[str, Any] | None:
        if reference.startswith("#"):
            for item in (self.resource or {}).get("contained", []) or []:
                if isinstance(item, dict) and item.get("id") == reference[1:]:
                    return item
            return None
        return self.resolve(reference) if self.resolve is not None else None


def validate_profile(
    resource: dict[str, Any],
    location: str,
    definition: dict[str, Any],
    registry: ProfileRegistry,
    version: FhirVersion,
    resolve: Resolver | None = None,
) -> ValidationReport:
    """Check ``resource`` (JSON; a resource, datatype or extension) against ``definition``.

    ``resolve`` finds the resource a reference points to (in the Bundle being validated);
    it decides slices by ``profile`` discriminators on ``resolve()``.
    """
    report = ValidationReport()
    walk = _Walk(registry, version, structure_for(version), report, _Notes(), 0, resolve, resource)
    root_type = str(resource.get("resourceType") or definition.get("type") or "Element")
    _profile(Node(resource, None, root_type, location, ""), definition, walk)
    walk.notes.emit(report)
    return report


def _chain(definition: dict[str, Any], walk: _Walk) -> list[dict[str, Any]]:
    chain = [definition]
    seen = {str(definition.get("url"))}
    current = definition
    while len(chain) < _MAX_CHAIN:
        base = current.get("baseDefinition")
        if not base or (str(base).startswith(_BASE) and "/" not in str(base)[len(_BASE) :]):
            break
        if base in seen:
            break
        parent = walk.registry.structure_definition(str(base), walk.version)
        if parent is None:
            walk.notes.add(
                _short(str(definition.get("url"))),
                "base profile not in the folder (its rules are not checked)",
                str(base),
            )
            break
        seen.add(str(base))
        chain.append(parent)
        current = parent
    return chain


def _profile(root: Node, definition: dict[str, Any], walk: _Walk) -> None:
    url = str(definition.get("url", "?"))
    sd_type = str(definition.get("type", ""))
    if sd_type and root.type_name != sd_type and sd_type not in ("Element", "DataType"):
        walk.report.error(root.path, f"is a {root.type_name}; the profile is for {sd_type}", url)
        return
    walk.report.checked.append(f"{root.path}: {url}")
    chain = _chain(definition, walk)
    index: dict[str, dict[str, Any]] = {}
    for layer in reversed(chain):
        for element in elements_of(layer):
            index.setdefault(id_of(element), {}).update(element)
    for layer in chain:
        _Layer(layer, index, root, walk).apply()


class _Layer:
    """One differential applied to one instance."""

    def __init__(
        self, definition: dict[str, Any], index: dict[str, dict[str, Any]], root: Node, walk: _Walk
    ) -> None:
        self.definition = definition
        self.index = index
        self.root = root
        self.walk = walk
        self.url = str(definition.get("url", "?"))
        self.name = _short(self.url)
        self._resolved: dict[str, list[Node] | str] = {}

    def apply(self) -> None:
        for element in elements_of(self.definition):
            element_id = id_of(element)
            segments = parse_id(element_id)
            if not segments or segments[0].name != self.root.type_name:
                if segments and segments[0].name not in (self.root.type_name, "Element"):
                    self.walk.notes.add(
                        self.name, "element for another type (not checked)", element_id
                    )
                continue
            if len(segments) == 1:
                self._check_values(element, element_id, [self.root])
                continue
            parents = self._resolve(segments[:-1])
            if isinstance(parents, str):
                self.walk.notes.add(self.name, "elements inside undecidable slices", parents)
                continue
            for parent in parents:
                selected = self._select(parent, segments, len(segments) - 1)
                if isinstance(selected, str):
                    self.walk.notes.add(self.name, "slices whose members are unknown", selected)
                    break
                self._check_cardinality(element, element_id, parent, selected)
                self._check_values(element, element_id, selected)
            self._note_unchecked(element, element_id)

    # -- finding the instance parts -------------------------------------------------

    def _resolve(self, segments: list[Segment]) -> list[Node] | str:
        key = ".".join(segment.text() for segment in segments)
        known = self._resolved.get(key)
        if known is not None:
            return known
        nodes: list[Node] | str = [self.root]
        for position in range(1, len(segments)):
            assert not isinstance(nodes, str)
            following: list[Node] = []
            for node in nodes:
                selected = self._select(node, segments, position)
                if isinstance(selected, str):
                    nodes = selected
                    break
                following += selected
            else:
                nodes = following
                continue
            break
        self._resolved[key] = nodes
        return nodes

    def _select(self, parent: Node, segments: list[Segment], position: int) -> list[Node] | str:
        segment = segments[position]
        found = children(parent, segment.name, self.walk.structure)
        if segment.slice is None:
            return found
        if segment.choice and segment.slice.startswith(segment.name[:-3]):
            return [node for node in found if node.key == segment.slice]
        info = self.walk.structure.element(parent.type_name, segment.name)
        if segment.slice == segment.name and info is not None and info.choice_of is not None:
            # STU3 names a type choice as a slice of itself: valueQuantity:valueQuantity.
            return found
        slice_id = ".".join(item.text() for item in segments[: position + 1])
        plain_id = ".".join([*(item.text() for item in segments[:position]), segment.name])
        return self._members(found, slice_id, plain_id, segment)

    def _members(
        self, found: list[Node], slice_id: str, plain_id: str, segment: Segment
    ) -> list[Node] | str:
        slice_element = self.index.get(slice_id, {})
        if segment.name in ("extension", "modifierExtension"):
            urls = [
                url for entry in types_of(slice_element) for url in canonicals(entry, "profile")
            ]
            fixed_url = self.index.get(f"{slice_id}.url", {}).get("fixedUri")
            wanted = urls[0] if urls else fixed_url
            if wanted:
                return [
                    node
                    for node in found
                    if isinstance(node.value, dict) and node.value.get("url") == wanted
                ]
            return f"{slice_id} (no extension URL known)"
        slicing = self.index.get(plain_id, {}).get("slicing")
        discriminators = slicing.get("discriminator", []) if isinstance(slicing, dict) else []
        if isinstance(discriminators, dict):
            discriminators = [discriminators]
        if not discriminators:
            return f"{slice_id} (no discriminator)"
        members = found
        for discriminator in discriminators:
            kind = str(discriminator.get("type", ""))
            path = str(discriminator.get("path", ""))
            members_or_reason = self._by_discriminator(members, slice_id, kind, path)
            if isinstance(members_or_reason, str):
                return members_or_reason
            members = members_or_reason
        return members

    def _by_discriminator(
        self, found: list[Node], slice_id: str, kind: str, path: str
    ) -> list[Node] | str:
        slice_element = self.index.get(slice_id, {})
        target_id = slice_id if path in ("$this", "") else f"{slice_id}.{path}"
        target = self.index.get(target_id, {})
        structure = self.walk.structure
        if kind in ("value", "pattern"):
            rule = fixed_or_pattern(target) or self._rule_in_type_profile(slice_element, path)
            if rule is not None:
                mode, expected = rule
                members = []
                for node in found:
                    values = values_at(node, path, structure)
                    if values is None:
                        return f"{slice_id} (discriminator path {path})"
                    match = equals_fixed if mode == "fixed" else contains_pattern
                    if any(match(item.value, expected) for item in values):
                        members.append(node)
                return members
            binding = target.get("binding") if path in ("$this", "") else None
            if isinstance(binding, dict) and value_set_of(binding):
                expansion = expand(
                    value_set_of(binding) or "", self.walk.registry, self.walk.version
                )
                if expansion.reason is not None:
                    return f"{slice_id} ({expansion.reason})"
                return [node for node in found if self._in_expansion(node, expansion)]
            return f"{slice_id} (no fixed value at {path})"
        if kind == "exists":
            if target.get("min", 0) and int(target["min"]) >= 1:
                want = True
            elif str(target.get("max", "")) == "0":
                want = False
            else:
                return f"{slice_id} (exists discriminator without min/max)"
            result = []
            for node in found:
                values = values_at(node, path, structure)
                if values is None:
                    return f"{slice_id} (discriminator path {path})"
                if bool(values) is want:
                    result.append(node)
            return result
        if kind == "profile":
            return self._by_profile(found, slice_id, path)
        if kind == "type" and path in ("$this", ""):
            codes = {entry.get("code") for entry in types_of(slice_element)}
            if not codes:
                return f"{slice_id} (type discriminator without types)"
            return [node for node in found if type_matches(node.type_name, codes)]
        return f"{slice_id} (discriminator {kind} {path})"

    def _rule_in_type_profile(
        self, slice_element: dict[str, Any], path: str
    ) -> tuple[str, Any] | None:
        """A fixed or pattern value for ``path`` set by the slice's type profile.

        Slices often get their discriminating value from the profile of their type
        (``Patient.name:nameInformation`` is a zib-NameInformation, whose ``HumanName.use``
        has the pattern "official"), which a snapshot would have copied in.
        """
        if path in ("$this", ""):
            return None
        for entry in types_of(slice_element):
            for url in canonicals(entry, "profile"):
                definition = self.walk.registry.structure_definition(url, self.walk.version)
                if definition is None:
                    continue
                wanted = f"{definition.get('type')}.{path}"
                for layer in _chain(definition, self.walk):
                    for element in elements_of(layer):
                        if id_of(element) == wanted:
                            rule = fixed_or_pattern(element)
                            if rule is not None:
                                return rule
        return None

    def _by_profile(self, found: list[Node], slice_id: str, path: str) -> list[Node] | str:
        """Members of a slice whose discriminator is conformance to a profile.

        ``$this``: the element itself must conform to the slice's type profile.
        ``x.resolve()``: the resource ``x`` refers to (contained, or in the Bundle) must
        conform to the slice's target profile. Conformance is judged by the rules this
        walk checks, the same ones it reports on.
        """
        structure = self.walk.structure
        if path in ("$this", ""):
            slice_types = types_of(self.index.get(slice_id, {}))
            profiles = [url for entry in slice_types for url in canonicals(entry, "profile")]
            if not profiles:
                return f"{slice_id} (profile discriminator without a profile)"
            members = []
            for node in found:
                verdict = self._conforms_any(node, profiles)
                if verdict is None:
                    return f"{slice_id} (its profile is not in the folder)"
                if verdict:
                    members.append(node)
            return members
        if not path.endswith("resolve()"):
            return f"{slice_id} (discriminator profile {path})"
        reference_path = path[: -len("resolve()")].rstrip(".")
        element = self.index.get(f"{slice_id}.{reference_path}" if reference_path else slice_id, {})
        references = [entry for entry in types_of(element) if entry.get("code") == "Reference"]
        profiles = [url for entry in references for url in canonicals(entry, "targetProfile")]
        if not profiles and self.walk.version is FhirVersion.STU3:
            profiles = [url for entry in references for url in canonicals(entry, "profile")]
        if not profiles:
            return f"{slice_id} (no target profile for {path})"
        members = []
        for node in found:
            targets = values_at(node, reference_path, structure) if reference_path else [node]
            if targets is None:
                return f"{slice_id} (discriminator path {path})"
            member = False
            for reference in targets:
                text = reference.value.get("reference") if reference.is_object else None
                resource = self.walk.target(text) if isinstance(text, str) else None
                if resource is None:
                    return f"{slice_id} (reference {text or '(none)'} cannot be resolved here)"
                target = Node(resource, None, str(resource.get("resourceType")), text or "", "")
                verdict = self._conforms_any(target, profiles)
                if verdict is None:
                    return f"{slice_id} (its target profile is not in the folder)"
                member = member or verdict
            if member:
                members.append(node)
        return members

    def _conforms_any(self, node: Node, profiles: list[str]) -> bool | None:
        """Whether ``node`` conforms to one of ``profiles``; None when one cannot be judged."""
        for profile in profiles:
            if profile.startswith(_BASE) and "/" not in profile[len(_BASE) :]:
                if type_matches(node.type_name, {profile[len(_BASE) :]}):
                    return True
                continue
            definition = self.walk.registry.structure_definition(profile, self.walk.version)
            if definition is None or self.walk.nesting >= _MAX_NESTING:
                return None
            if str(definition.get("type")) != node.type_name:
                continue
            key = (id(node.value), profile)
            if key not in self.walk.verdicts:
                scratch = ValidationReport()
                _profile(node, definition, self.walk.inner(scratch))
                self.walk.verdicts[key] = not scratch.errors
            if self.walk.verdicts[key]:
                return True
        return False

    # -- the rules ---------------------------------------------------------------------

    def _check_cardinality(
        self, element: dict[str, Any], element_id: str, parent: Node, found: list[Node]
    ) -> None:
        minimum = element.get("min")
        maximum = element.get("max")
        if isinstance(minimum, int) and minimum > 0:
            self.walk.report.rules_checked += 1
            if len(found) < minimum:
                self.walk.report.error(
                    f"{parent.path}.{parse_id(element_id)[-1].text()}",
                    f"at least {minimum} required, found {len(found)}",
                    self.url,
                )
        if maximum not in (None, "*"):
            self.walk.report.rules_checked += 1
            try:
                limit = int(str(maximum))
            except ValueError:
                return
            if len(found) > limit:
                self.walk.report.error(
                    f"{parent.path}.{parse_id(element_id)[-1].text()}",
                    f"at most {limit} allowed, found {len(found)}",
                    self.url,
                )

    def _check_values(self, element: dict[str, Any], element_id: str, nodes: list[Node]) -> None:
        if not nodes:
            return
        rule = fixed_or_pattern(element)
        types = types_of(element)
        segment = parse_id(element_id)[-1]
        for node in nodes:
            if rule is not None:
                mode, expected = rule
                self.walk.report.rules_checked += 1
                ok = (equals_fixed if mode == "fixed" else contains_pattern)(node.value, expected)
                if not ok:
                    self.walk.report.error(
                        node.path, f"does not match the {mode} value {expected!r}", self.url
                    )
            if types:
                self._check_types(node, types, segment)
            binding = element.get("binding")
            if isinstance(binding, dict):
                self._check_binding(node, binding, element_id)
            max_length = element.get("maxLength")
            if isinstance(max_length, int) and isinstance(node.value, str):
                self.walk.report.rules_checked += 1
                if len(node.value) > max_length:
                    self.walk.report.error(node.path, f"longer than {max_length}", self.url)
            for constraint in element.get("constraint", []) or []:
                if isinstance(constraint, dict):
                    path = str(element.get("path", element_id)).replace("[x]", "")
                    self._check_invariant(node, constraint, element_id, path)

    def _check_types(self, node: Node, types: list[dict[str, Any]], segment: Segment) -> None:
        codes = {str(entry.get("code")) for entry in types if entry.get("code")}
        if segment.choice or node.key != segment.name:
            actual = choice_type(node.key, segment.name) if segment.choice else node.type_name
            self.walk.report.rules_checked += 1
            if codes and not type_matches(actual, codes):
                self.walk.report.error(
                    node.path, f"has type {actual}; allowed: {', '.join(sorted(codes))}", self.url
                )
                return
        applicable = []
        for entry in types:
            code = str(entry.get("code", ""))
            actual = choice_type(node.key, segment.name) if segment.choice else node.type_name
            if type_matches(actual, {code}):
                applicable.append(entry)
        # STU3 repeats the type once per target profile, so targets are pooled across entries.
        references = [entry for entry in applicable if entry.get("code") == "Reference"]
        targets = [target for entry in references for target in canonicals(entry, "targetProfile")]
        if self.walk.version is FhirVersion.STU3 and not targets:
            # STU3 names a Reference's target in type.profile when targetProfile is absent.
            targets = [target for entry in references for target in canonicals(entry, "profile")]
        if targets:
            self._check_target(node, targets)
        for entry in applicable:
            if entry.get("code") == "Reference":
                continue
            for profile in canonicals(entry, "profile"):
                self._nested(node, profile)

    def _check_target(self, node: Node, targets: list[str]) -> None:
        actual = reference_type(node, self.root)
        if actual is None:
            return
        allowed: dict[str, list[str]] = {}
        for target in targets:
            if target.startswith(_BASE):
                allowed.setdefault(target[len(_BASE) :], [])
                continue
            definition = self.walk.registry.structure_definition(target, self.walk.version)
            if definition is None:
                self.walk.notes.add(self.name, "target profiles not in the folder", target)
                return
            allowed.setdefault(str(definition.get("type")), []).append(target)
        self.walk.report.rules_checked += 1
        if allowed and actual not in allowed and "Resource" not in allowed:
            self.walk.report.error(
                node.path, f"refers to a {actual}; allowed: {', '.join(sorted(allowed))}", self.url
            )
            return
        profiles = allowed.get(actual, [])
        if not profiles:
            return
        reference = node.value.get("reference") if node.is_object else None
        resource = self.walk.target(reference) if isinstance(reference, str) else None
        if resource is None:
            for profile in profiles:
                self.walk.notes.add(
                    self.name,
                    "referenced resources outside the Bundle are not validated against the "
                    "target profile",
                    _short(profile),
                )
            return
        referred = Node(resource, None, actual, str(reference), "")
        verdict = self._conforms_any(referred, profiles)
        if verdict is None:
            self.walk.notes.add(self.name, "target profiles not judged", ", ".join(profiles))
            return
        self.walk.report.rules_checked += 1
        if not verdict:
            names = ", ".join(_short(profile) for profile in profiles)
            self.walk.report.error(
                node.path, f"refers to {reference}, which does not conform to {names}", self.url
            )

    def _nested(self, node: Node, profile: str) -> None:
        if profile.startswith(_BASE) and "/" not in profile[len(_BASE) :]:
            return
        if not isinstance(node.value, dict):
            self.walk.notes.add(self.name, "profiles on primitive elements", profile)
            return
        definition = self.walk.registry.structure_definition(profile, self.walk.version)
        if definition is None:
            self.walk.notes.add(self.name, "profiles not in the folder", profile)
            return
        if self.walk.nesting >= _MAX_NESTING:
            self.walk.notes.add(self.name, "profiles nested too deeply", profile)
            return
        _profile(node, definition, self.walk.inner())

    def _check_binding(self, node: Node, binding: dict[str, Any], element_id: str) -> None:
        strength = binding.get("strength")
        value_set = value_set_of(binding)
        if strength != "required":
            if value_set:
                self.walk.notes.add(
                    self.name,
                    f"{strength or 'unstated'} bindings (advice, not checked)",
                    element_id,
                )
            return
        if not value_set:
            return
        expansion = expand(value_set, self.walk.registry, self.walk.version)
        if expansion.reason is not None:
            self.walk.notes.add(self.name, "required bindings not checked", expansion.reason)
            return
        if node.type_name not in ("code", "Coding", "CodeableConcept"):
            self.walk.notes.add(
                self.name,
                "required bindings on this type not checked",
                f"{element_id} {node.type_name}",
            )
            return
        self.walk.report.rules_checked += 1
        if not self._in_expansion(node, expansion):
            self.walk.report.error(
                node.path, f"no code from the required ValueSet {value_set}", self.url
            )

    def _in_expansion(self, node: Node, expansion: Any) -> bool:
        value = node.value
        if isinstance(value, str):
            return bool(expansion.holds(None, value))
        if not isinstance(value, dict):
            return False
        codings = value.get("coding") if "coding" in value else [value]
        return any(
            isinstance(coding, dict) and expansion.holds(coding.get("system"), coding.get("code"))
            for coding in codings or []
        )

    def _check_invariant(
        self, node: Node, constraint: dict[str, Any], element_id: str, element_path: str
    ) -> None:
        key = str(constraint.get("key", "?"))
        expression = constraint.get("expression")
        if not expression:
            self.walk.notes.add(self.name, "invariants without a FHIRPath expression", key)
            return
        if not isinstance(node.value, dict):
            self.walk.notes.add(self.name, "invariants on primitive elements", key)
            return
        if "%resource" in expression or "%rootResource" in expression:
            self.walk.notes.add(self.name, "invariants that use %resource", key)
            return
        engine = _fhirpath(self.walk.version)
        base = None
        if "resourceType" not in node.value:
            base = node.type_name if engine.knows_type(node.type_name) else element_path
        try:
            result = engine.evaluate(node.value, str(expression), base=base)
        except FhirPathError as exc:
            self.walk.notes.add(
                self.name, "invariants fhirpathpy cannot evaluate", f"{key} ({exc})"[:160]
            )
            return
        if len(result) != 1 or not isinstance(result[0], bool):
            self.walk.notes.add(self.name, "invariants without a boolean result", key)
            return
        self.walk.report.rules_checked += 1
        if not result[0]:
            human = constraint.get("human") or expression
            severity = str(constraint.get("severity", "error"))
            if severity == "warning":
                self.walk.report.warning(node.path, f"{key}: {human}", self.url)
            else:
                self.walk.report.error(node.path, f"{key}: {human}", self.url)

    def _note_unchecked(self, element: dict[str, Any], element_id: str) -> None:
        for key in element:
            if key.startswith(("minValue", "maxValue")):
                self.walk.notes.add(self.name, "minValue/maxValue", element_id)
        slicing = element.get("slicing")
        if isinstance(slicing, dict):
            if slicing.get("rules") == "closed":
                self.walk.notes.add(self.name, "closed slicing (extra items)", element_id)
            if slicing.get("ordered") is True:
                self.walk.notes.add(self.name, "ordered slicing", element_id)
