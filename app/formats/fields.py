"""What the UBL and CII readers share: walking a document by prefixed XPath, and recording each
canonical field with the XPath it was read at.

The canonical invoice is built as the plain JSON dict an ERP would have posted, so it goes
through the very same normalization and rules (`parse_invoice`, `check_invoice`) as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from app.domain.violations import Code, Violation

# The canonical model's money and rate precision (`MAX_DECIMAL_PLACES` in app.domain.invoice).
_PRICE_STEP = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Node:
    """An element and the XPath that reached it, prefixed as the syntax's specification is."""

    element: etree._Element
    path: str
    namespaces: Mapping[str, str]

    def first(self, relative: str) -> Node | None:
        """The first element at `relative`, or None."""
        found = self.all(relative)
        return found[0] if found else None

    def all(self, relative: str) -> list[Node]:
        """Every element at `relative`, each with its positional XPath."""
        found: Any = self.element.xpath(relative, namespaces=dict(self.namespaces))
        elements = [item for item in found if isinstance(item, etree._Element)]
        if len(elements) == 1:
            return [Node(elements[0], f"{self.path}/{relative}", self.namespaces)]
        return [
            Node(element, f"{self.path}/{relative}[{index}]", self.namespaces)
            for index, element in enumerate(elements, 1)
        ]

    def text(self, relative: str) -> str | None:
        """The trimmed text at `relative`; None when absent or blank."""
        node = self.first(relative)
        return node.value if node is not None else None

    @property
    def value(self) -> str | None:
        """This element's trimmed text; None when blank."""
        text = "".join(str(part) for part in self.element.itertext()).strip()
        return text or None

    def at(self, relative: str) -> str:
        """The XPath of `relative` below this node, whether or not it is there."""
        return f"{self.path}/{relative}"


@dataclass(slots=True)
class Fields:
    """The canonical invoice being built: a JSON-like dict, and where each field came from."""

    document: dict[str, Any] = field(default_factory=dict)
    locations: dict[str, str] = field(default_factory=dict)
    problems: list[Violation] = field(default_factory=list)

    def put(self, name: str, value: Any, location: str) -> None:
        """Set the dotted field `name` (`lines.0.quantity`) when `value` is not None; its
        location is kept either way, so a missing field's error says where it was expected."""
        self.locations[name] = location
        if value is None:
            return
        parts = name.split(".")
        node: Any = self.document
        for part, following in zip(parts, [*parts[1:], None], strict=True):
            if following is None:
                _assign(node, part, value)
                return
            child = _child(node, part)
            if child is None:
                child = [] if following.isdigit() else {}
                _assign(node, part, child)
            node = child

    def locate(self, name: str, location: str) -> None:
        """Record where a group (`supplier`, `lines.0`) lives, for errors about it as a whole."""
        self.locations[name] = location

    def problem(self, name: str, code: Code, message: str, location: str) -> None:
        """A problem the document itself shows (not one the rules will find)."""
        self.problems.append(Violation(name, code, message, location))

    def put_siret(self, party_name: str, party: Node, candidates: tuple[str, ...]) -> None:
        """The party's SIRET from the first of `candidates` it carries, expected at the first.

        The candidates end with the party's legal registration id, whatever its scheme: the
        rules then judge it as a SIRET, so a SIREN there is refused with its location.
        """
        siret = next((node for path in candidates if (node := party.first(path)) is not None), None)
        location = siret.path if siret is not None else party.at(candidates[0])
        self.put(f"{party_name}.siret", siret.value if siret is not None else None, location)

    def put_address(
        self, party_name: str, party: Node, path: str, elements: Mapping[str, str]
    ) -> None:
        """The party's postal address at `path`: each canonical field from its element."""
        address = party.first(path)
        self.locate(f"{party_name}.address", party.at(path))
        if address is None:
            return
        for field_name, element in elements.items():
            self.put(
                f"{party_name}.address.{field_name}", address.text(element), address.at(element)
            )


def _child(node: Any, part: str) -> Any:
    if isinstance(node, list):
        index = int(part)
        return node[index] if index < len(node) else None
    return node.get(part)


def _assign(node: Any, part: str, value: Any) -> None:
    if isinstance(node, list):
        index = int(part)
        while len(node) <= index:
            node.append({})
        node[index] = value
    else:
        node[part] = value


def cii_date(text: str | None) -> str | None:
    """A CII date (format 102, CCYYMMDD) as ISO 8601; anything else is passed on as read, so
    the canonical rules report it as an invalid date at its location."""
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y%m%d").date().isoformat()
    except ValueError:
        return text


def iso_date(text: str | None) -> str | None:
    """A UBL date (xs:date) as the canonical ISO date; a time-zone suffix is dropped."""
    if text is None:
        return None
    candidate = text[:10]
    try:
        return date.fromisoformat(candidate).isoformat()
    except ValueError:
        return text


def unit_price(price: str | None, base_quantity: str | None) -> tuple[str | None, bool]:
    """BT-146 per unit: the net price divided by its base quantity (BT-149); False when that
    cannot be said exactly with the canonical model's six decimals."""
    if price is None or base_quantity is None:
        return price, True
    try:
        base = Decimal(base_quantity)
        amount = Decimal(price)
    except InvalidOperation:
        return price, True
    if base == 1 or base <= 0:
        return price, base == 1
    per_unit = amount / base
    if per_unit != per_unit.quantize(_PRICE_STEP):
        return price, False
    return f"{per_unit.normalize():f}", True


def decimal_or_none(text: str | None) -> Decimal | None:
    """`text` as a decimal, or None when absent or not a number."""
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None
