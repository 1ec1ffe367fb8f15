"""`POST /v1/invoices/batch`: many invoices in one request, each answered as if posted alone.

Every item takes the single endpoint's path (`service.submit_invoice`) in its own unit of work,
one after the other, so a failing item never undoes another and a later item sees the earlier
ones (the natural key answers 409 within a batch as across requests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.service import Caller
from app.domain.violations import Code, Violation
from app.errors import GatewayError, IdempotencyKeyInvalid, MalformedRequest, RequestInvalid
from app.idempotency import service as idempotency
from app.invoices import service
from app.invoices.channels import DEFAULT_CHANNEL, Channel
from app.invoices.schemas import InvoiceIn, InvoiceOut
from app.problems import Problem
from app.settings import ApiSettings

BATCH_PATH = "/v1/invoices/batch"


class InvoiceBatchItemIn(BaseModel):
    """One invoice of a batch, with the Idempotency-Key it would have been sent with alone."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=idempotency.MAX_KEY_LENGTH,
            pattern="^[ -~]*[!-~][ -~]*$",
            description="Same rules and same key space as the Idempotency-Key header: an item "
            "whose key was used with the same invoice replays the first answer.",
        ),
    ] = None
    invoice: InvoiceIn


class InvoiceBatchIn(BaseModel):
    """Invoices to submit; each is validated and stored on its own."""

    model_config = ConfigDict(extra="forbid")

    invoices: list[InvoiceBatchItemIn] = Field(
        min_length=1,
        description="At most `API_MAX_BATCH_ITEMS` (500 by default) items; more is a 422 and "
        "stores nothing.",
    )


class InvoiceBatchItemOut(BaseModel):
    """What `POST /v1/invoices` would have answered for this item."""

    status: int = Field(
        description="201 stored (or replayed), 400 malformed item or Idempotency-Key, 409 "
        "duplicate, 422 invalid.",
        examples=[201],
    )
    replayed: bool = Field(description="The answer replays an earlier one with the same key.")
    invoice: InvoiceOut | None = Field(default=None, description="The invoice, when 201.")
    problem: Problem | None = Field(default=None, description="The problem, otherwise.")


class InvoiceBatchOut(BaseModel):
    """One answer per item, in the order sent."""

    items: list[InvoiceBatchItemOut]


@dataclass(frozen=True, slots=True)
class BatchItem:
    """An item whose shape was read: its invoice document and key, or why it has neither."""

    document: dict[str, Any] | None
    idempotency_key: str | None
    error: GatewayError | None


def read_batch(document: dict[str, Any], max_items: int) -> list[BatchItem]:
    """The items of a batch body; 422 for a body that is not one (nothing is stored then)."""
    unknown = sorted(set(document) - {"invoices"})
    if unknown:
        raise RequestInvalid(
            errors=[Violation(name, Code.FIELD_INVALID, "Unknown field.") for name in unknown]
        )
    items = document.get("invoices")
    if items is None:
        raise RequestInvalid(errors=[Violation("invoices", Code.FIELD_REQUIRED, "Required.")])
    if not isinstance(items, list) or not items:
        raise RequestInvalid(
            errors=[Violation("invoices", Code.FIELD_INVALID, "A non-empty list of items.")]
        )
    if len(items) > max_items:
        raise RequestInvalid(
            errors=[
                Violation(
                    "invoices",
                    Code.FIELD_INVALID,
                    f"{len(items)} items; at most {max_items} per batch.",
                )
            ]
        )
    return [_read_item(item) for item in items]


_ITEM_SHAPE = 'Each item is {"invoice": {...}, "idempotency_key": "..."} (the key optional).'


def _read_item(item: Any) -> BatchItem:
    # The single endpoint answers 400 for a body that is not an object, or for a bad key: an
    # item gets the same problem, and the other items go on.
    if not isinstance(item, dict):
        return BatchItem(None, None, MalformedRequest(f"The item is not an object. {_ITEM_SHAPE}"))
    unknown = sorted(set(item) - {"invoice", "idempotency_key"})
    if unknown:
        names = ", ".join(unknown)
        return BatchItem(None, None, MalformedRequest(f"Unknown field(s) {names}. {_ITEM_SHAPE}"))
    document = item.get("invoice")
    if not isinstance(document, dict):
        return BatchItem(None, None, MalformedRequest(f"`invoice` is not an object. {_ITEM_SHAPE}"))
    key = item.get("idempotency_key")
    if key is not None:
        try:
            if not isinstance(key, str):
                raise IdempotencyKeyInvalid
            idempotency.checked_key(key)
        except IdempotencyKeyInvalid:
            return BatchItem(
                None,
                None,
                IdempotencyKeyInvalid(
                    f"`idempotency_key` must be a string of 1 to {idempotency.MAX_KEY_LENGTH} "
                    "printable ASCII characters, not only spaces."
                ),
            )
    return BatchItem(document, key, None)


async def submit_batch(
    sessionmaker: async_sessionmaker[AsyncSession],
    items: Sequence[BatchItem],
    *,
    caller: Caller,
    settings: ApiSettings,
    lookup: service.RequirementsLookup,
    suppliers: service.SupplierLookup | None = None,
    delivery_format: Channel = DEFAULT_CHANNEL,
) -> dict[str, Any]:
    """Submit each item in order, each in its own transaction; the `InvoiceBatchOut` body."""
    answers = []
    for position, item in enumerate(items):
        instance = f"{BATCH_PATH}#/invoices/{position}"
        if item.error is not None or item.document is None:
            error = item.error or MalformedRequest(_ITEM_SHAPE)
            answers.append(_problem(error, instance))
            continue
        try:
            async with sessionmaker() as session:
                submission = await service.submit_invoice(
                    session,
                    caller=caller,
                    document=item.document,
                    idempotency_key=item.idempotency_key,
                    settings=settings,
                    lookup=lookup,
                    suppliers=suppliers,
                    delivery_format=delivery_format,
                )
                await session.commit()
        except GatewayError as error:
            answers.append(_problem(error, instance))
            continue
        answers.append(
            {
                "status": submission.status,
                "replayed": submission.replayed,
                "invoice": submission.body,
                "problem": None,
            }
        )
    return {"items": answers}


def _problem(error: GatewayError, instance: str) -> dict[str, Any]:
    return {
        "status": error.status,
        "replayed": False,
        "invoice": None,
        "problem": error.to_problem(instance=instance),
    }
