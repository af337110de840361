"""REST APIs under /api/v1/ (FAB ModelRestApi, JWT); `register_apis` adds them all.

Routes and permissions follow app/roles.py (see app/api/base.py). The OpenAPI document at
/api/v1/_openapi is FAB's `OpenApi` view: it needs a login and the `can_get` permission on
`OpenApi` (Admin has it; grant it in roles.py to the roles that should read the spec).
"""
from __future__ import annotations

from flask_appbuilder import AppBuilder

from .budgets import BudgetApi
from .companies import CompanyApi, DeliveryAddressApi
from .inquiries import InquiryApi
from .orders import OrderApi
from .pickup import PickupReservationApi
from .products import ProductApi
from .quotes import QuoteApi
from .standing_orders import StandingOrderApi
from .users import UserApi

ALL_APIS = (
    CompanyApi,
    DeliveryAddressApi,
    ProductApi,
    OrderApi,
    QuoteApi,
    BudgetApi,
    StandingOrderApi,
    InquiryApi,
    PickupReservationApi,
    UserApi,
)


def register_apis(appbuilder: AppBuilder) -> None:
    for api in ALL_APIS:
        appbuilder.add_api(api)
