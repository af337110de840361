"""Kontoutskrift over the API: /api/v1/statement/ (the rules: app/domain/statements.py).

* `GET /?company_id=&from=&to=`: the statement of the caller's company (a customer admin; another
  company's id answers 404) or, for supplier staff, of `company_id` (required): credit limit,
  exposure, available credit, open invoices with days overdue, the invoices paid from `from` to `to`
  (Oslo days, ISO dates; default the last 90 days) and the exposure at each of the last 12 month ends.
* `POST /invoice/<id>/payment` {paid_on?}: "Registrer innbetaling" (customer service), exactly once:
  a second registration answers 409.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import Response, request
from flask_appbuilder.api import expose
from flask_appbuilder.security.decorators import permission_name, protect
from marshmallow import fields

from app.api.base import PortalBaseApi, answered, current_actor, json_object
from app.api.fields import InputSchema
from app.domain import statements as rules
from app.domain.errors import ValidationFailed
from app.domain.formatting import oslo_today
from app.extensions import db

log = logging.getLogger(__name__)


class PaymentIn(InputSchema):
    paid_on = fields.Date(load_default=None, allow_none=True, metadata={"description": "Oslo day (default today)"})


def _line(line: rules.Line) -> dict[str, Any]:
    return {
        "invoice_id": line.invoice_id,
        "number": line.number,
        "order_id": line.order_id,
        "order_number": line.order_number,
        "invoice_date": line.invoice_date.isoformat(),
        "due_date": line.due_date.isoformat(),
        "amount": f"{line.amount:.2f}",
        "paid_at": line.paid_at.isoformat() if line.paid_at else None,
        "days_overdue": line.days_overdue,
        "overdue": line.overdue,
    }


def _totals(t: rules.Totals) -> dict[str, Any]:
    return {"count": t.count, "amount": f"{t.amount:.2f}"}


def _period(today: dt.date) -> tuple[dt.date, dt.date]:
    try:
        return rules.parse_period(request.args.get("from"), request.args.get("to"), today)
    except ValidationFailed as exc:  # the API's parameter names
        names = {"fra": "from", "til": "to"}
        raise ValidationFailed({names.get(k, k): v for k, v in exc.errors.items()}) from None


class StatementApi(PortalBaseApi):
    resource_name = "statement"
    openapi_spec_tag = "Kontoutskrift"

    @expose("/", methods=["GET"])
    @protect()
    @permission_name("get")
    @answered
    def statement(self) -> Response:
        """The account statement.
        ---
        get:
          summary: Kontoutskrift of your company (staff, any company with company_id)
          parameters:
          - {in: query, name: company_id, required: false, schema: {type: integer}, description: 'Supplier staff: required; customers: only their own'}
          - {in: query, name: from, required: false, schema: {type: string, format: date}}
          - {in: query, name: to, required: false, schema: {type: string, format: date}}
          responses:
            200:
              description: The statement (money as strings with two decimals)
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      result:
                        type: object
                        properties:
                          company_id: {type: integer}
                          customer_number: {type: string}
                          name: {type: string}
                          today: {type: string, format: date}
                          credit_limit: {type: string}
                          exposure: {type: string}
                          available_credit: {type: string}
                          open: {type: object}
                          overdue: {type: object}
                          paid: {type: object}
                          period: {type: object}
                          open_invoices: {type: array, items: {type: object}}
                          paid_invoices: {type: array, items: {type: object}}
                          exposure_history: {type: array, items: {type: object}}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
        """
        company = rules.statement_company(db.session, current_actor(), request.args.get("company_id"))
        today = oslo_today()
        start, end = _period(today)
        st = rules.statement(db.session, company, start=start, end=end, today=today)
        return self.response(
            200,
            result=dict(
                company_id=company.id,
                customer_number=company.customer_number,
                name=company.name,
                today=today.isoformat(),
                credit_limit=f"{st.credit_limit:.2f}",
                exposure=f"{st.exposure:.2f}",
                available_credit=f"{st.available_credit:.2f}",
                open=_totals(st.open),
                overdue=_totals(st.overdue),
                paid=_totals(st.paid),
                period={"from": start.isoformat(), "to": end.isoformat()},
                open_invoices=[_line(line) for line in st.open_lines],
                paid_invoices=[_line(line) for line in st.paid_lines],
                exposure_history=[
                    {"month": p.month.isoformat()[:7], "at": p.at.isoformat(), "exposure": f"{p.exposure:.2f}"}
                    for p in st.history
                ],
            ),
        )

    @expose("/invoice/<int:pk>/payment", methods=["POST"])
    @protect()
    @permission_name("pay")
    @answered
    def payment(self, pk: int) -> Response:
        """Registrer innbetaling.
        ---
        post:
          summary: Register the payment of an unpaid invoice (customer service), exactly once
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            required: false
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    paid_on: {type: string, format: date, description: 'Oslo day; default today'}
          responses:
            200:
              description: The invoice, paid
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      invoice_id: {type: integer}
                      number: {type: string}
                      paid: {type: boolean}
                      paid_at: {type: string, format: date-time}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: The invoice is paid already}
        """
        data = json_object(PaymentIn())
        invoice = rules.register_payment(db.session, pk, current_actor(), paid_on=data.get("paid_on"))
        db.session.flush()
        return self.response(
            200,
            invoice_id=invoice.id,
            number=invoice.number,
            paid=invoice.paid,
            paid_at=invoice.paid_at.isoformat() if invoice.paid_at else None,
        )
