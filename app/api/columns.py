"""Norwegian column labels of the REST API (FAB's `label_columns`).

Lazy strings: FAB runs gettext on each label per request, so the English catalogue translates
them for a user who chose English.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _

from app.domain.companies import FIELD_LABELS as COMPANY_LABELS

# A code column gets "<label> (kode)", its `_label` twin the label (app/api/base.py).
COLUMN_LABELS: dict[str, Any] = {
    "id": _("Id"),
    # The company's fields; other resources share some of these names ("name", "active", "postal_code").
    **COMPANY_LABELS,
    "company_id": _("Kundekonto (id)"),
    "company.name": _("Kundekonto"),
    "company.customer_number": COMPANY_LABELS["customer_number"],
    "recipient_name": _("Mottaker"),
    "street": _("Gateadresse"),
    "city": _("Poststed"),
    "sku": _("Varenummer"),
    "description": _("Beskrivelse"),
    "unit_price": _("Enhetspris eks. mva"),
    "vat_rate": _("Mva-sats i prosent"),
    "is_configurable": _("Kan konfigureres"),
    "min_width": _("Min. bredde (cm)"),
    "max_width": _("Maks. bredde (cm)"),
    "min_depth": _("Min. dybde (cm)"),
    "max_depth": _("Maks. dybde (cm)"),
    "variants": _("Varianter"),
    "number": _("Nummer"),
    "channel": _("Kanal"),
    "status": _("Status"),
    "customer_reference": _("Deres referanse"),
    "delivery_address_id": _("Leveringsadresse (id)"),
    "delivery_address.recipient_name": _("Leveringsadresse"),
    "delivery_address.city": _("Leveringssted"),
    "created_by_id": _("Opprettet av (id)"),
    "created_by.first_name": _("Opprettet av, fornavn"),
    "created_by.last_name": _("Opprettet av, etternavn"),
    "total_ex_vat": _("Sum eks. mva"),
    "total_vat": _("Mva"),
    "total_inc_vat": _("Sum inkl. mva"),
    "over_budget": _("Over bruksgrensen"),
    "delivery_date": _("Leveringsdato"),
    "quote_id": _("Tilbud (id)"),
    "standing_order_id": _("Fast ordre (id)"),
    "lines": _("Linjer"),
    "events": _("Statushistorikk"),
    "shipments": _("Forsendelser"),
    "invoices": _("Fakturaer"),
    "end_customer_ref": _("Sluttkunde"),
    "valid_until": _("Gyldig til"),
    "note": _("Merknad"),
    "effective_status": _("Gjeldende status"),
    "user_id": _("Bruker (id)"),
    "user.first_name": _("Fornavn"),
    "user.last_name": _("Etternavn"),
    "user.username": _("Brukernavn"),
    "period": _("Periode"),
    "amount": _("Beløp"),
    "frequency": _("Hyppighet"),
    "interval_weeks": _("Uker mellom leveringer"),
    "weekday": _("Ukedag (0 = mandag)"),
    "day_of_month": _("Dag i måneden"),
    "start_date": _("Startdato"),
    "end_date": _("Sluttdato"),
    "paused_until": _("Pause til"),
    "skip_date": _("Hopp over dato"),
    "subject": _("Emne"),
    "messages": _("Meldinger"),
    "store_id": _("Butikk (id)"),
    "store.name": _("Butikk"),
    "store.city": _("Butikkens poststed"),
    "pickup_code": _("Hentekode"),
    "pickup_deadline": _("Hentes senest"),
    "items": _("Varer"),
}
