"""Roles and their permissions. `portal init` writes exactly this table into FAB's tables.

A permission is FAB's (permission name, view or API class name) pair. `menu_access` entries name
FAB menu items (the view's registered name) and categories.
"""

from __future__ import annotations

READ = ("can_list", "can_show")
CRUD = ("can_list", "can_show", "can_add", "can_edit")
API_READ = ("can_get", "can_info")
API_WRITE = ("can_get", "can_info", "can_post", "can_put")
PROFILE: dict[str, tuple[str, ...]] = {
    "UserInfoEditView": ("can_this_form_get", "can_this_form_post"),
    "ResetMyPasswordView": ("can_this_form_get", "can_this_form_post"),
    "PortalUserDBModelView": ("can_userinfo", "can_resetmypassword", "can_userinfoedit"),
    "ProfileView": ("can_show", "can_edit"),  # Min profil (FAB's own profile forms lead there)
    "UserApi": ("can_change_password",),  # POST /api/v1/user/me/password: the user's own
    "MfaView": ("can_show", "can_edit"),  # Tofaktorinnlogging on Min profil: the user's own
    "MfaApi": ("can_get", "can_post"),  # /api/v1/mfa/: the caller's own two-factor login
    # Varsler: the bell, /varsler/ and /api/v1/notice/, each user's own notices and mail choices only
    "NoticeView": ("can_list", "can_read"),
    "NoticeApi": ("can_get", "can_read", "can_choose"),
}
# Brukere: create users, deactivate/activate, make/unmake customer admin (app/domain/accounts.py).
USER_API = (
    "can_get",
    "can_info",
    "can_post",
    "can_deactivate",
    "can_activate",
    "can_promote",
    "can_demote",
    "can_send_link",
    "can_change_password",
)

SUPPLIER_ROLES = ("Admin", "Seller", "CustomerService", "Manager")
CUSTOMER_ROLES = ("CustomerAdmin", "CustomerUser")
ALL_ROLES = SUPPLIER_ROLES + CUSTOMER_ROLES

# Role groups: which supplier staff do what (Admin may do everything).
CUSTOMER_SERVICE = ("CustomerService", "Admin")  # customers' data, users, shipments, invoices, inquiries, pickup
SELLERS = ("Seller", "Admin")  # approve dealer orders, special prices on quotes
CUSTOMER_ADMIN = "CustomerAdmin"  # keeps the company's users, postal address, addresses, budgets, plans

ROLE_LABELS = {
    "Admin": "Systemadministrator",
    "Seller": "Selger",
    "CustomerService": "Kundeservice",
    "Manager": "Leder",
    "CustomerAdmin": "Administrator hos kunde",
    "CustomerUser": "Bruker",
}

# Views and APIs every logged-in customer may read (their company's rows only: security.py).
_CUSTOMER_COMMON: dict[str, tuple[str, ...]] = {
    **PROFILE,
    "OrderView": READ,
    "OrderLineView": READ,
    "QuoteView": READ,
    "QuoteLineView": READ,
    "ProductView": READ,
    "StoreView": READ,
    "DeliveryAddressView": READ,
    "InquiryView": READ + ("can_add", "can_reply"),
    "PickupReservationView": READ + ("can_cancel",),
    "OrderApi": API_READ + ("can_post", "can_cancel", "can_invoice_copy"),
    "QuoteApi": API_READ + ("can_post", "can_convert", "can_send", "can_decline"),
    "ProductApi": API_READ,
    "DeliveryAddressApi": API_READ,
    "InquiryApi": API_READ + ("can_post", "can_reply"),
    "PickupReservationApi": API_READ + ("can_cancel",),
    "CompanyApi": API_READ,
    # Faste ordre: every customer user reads the company's plans ("Her finner du informasjon over
    # dine fastordre"); the customer admin keeps them (below).
    "StandingOrderView": READ,
    "StandingOrderApi": API_READ,
    # Workflow pages: ordering, cancel, invoice copy, quotes
    "NewOrderView": ("can_new",),
    "ProductSearchView": ("can_search",),
    "OrderActionsView": ("can_cancel", "can_invoice_copy"),
    "QuoteActionsView": ("can_new", "can_convert", "can_send", "can_decline"),
    # Hurtigbestilling: check pasted or uploaded lines, hand them to the order or quote form.
    "QuickOrderView": ("can_new",),
    "QuickOrderApi": ("can_check",),
    # Handlelister: every user reads the company's lists and makes lists; who keeps (changes) a
    # list is the rules' (its creator, the customer admins: app/domain/shopping_lists.py).
    "ShoppingListView": READ,
    "ShoppingListFormView": ("can_new", "can_edit", "can_delete"),
    "ShoppingListApi": API_READ + ("can_post", "can_put", "can_delete"),
}

# Supplier staff: read everything (Manager has this plus the reports).
_SUPPLIER_READ: dict[str, tuple[str, ...]] = {
    **PROFILE,
    "CompanyView": READ,
    "DeliveryAddressView": READ,
    "ProductView": READ,
    "StoreView": READ,
    "OrderView": READ,
    "OrderLineView": READ,
    "QuoteView": READ,
    "QuoteLineView": READ,
    "BudgetView": READ,
    "BudgetDashboardView": ("can_list",),
    "StandingOrderView": READ,
    "InquiryView": READ,
    "PickupReservationView": READ,
    "CompanyApi": API_READ,
    "DeliveryAddressApi": API_READ,
    "ProductApi": API_READ,
    "OrderApi": API_READ + ("can_invoice_copy",),
    "QuoteApi": API_READ,
    "BudgetApi": API_READ,
    "ApprovalRuleApi": API_READ,  # the customers' own approval rules (Godkjenning hos dere)
    "StandingOrderApi": API_READ,
    "InquiryApi": API_READ,
    "PickupReservationApi": API_READ,
    "OrderActionsView": ("can_invoice_copy",),
    "ApprovalQueueView": ("can_queue",),
    # Handlelister: read-only for staff (the customer's own working lists).
    "ShoppingListView": READ,
    "ShoppingListApi": API_READ,
    # The OpenAPI spec and Swagger UI describe the whole back office API: supplier staff only.
    "OpenApi": ("can_get",),
    "SwaggerView": ("can_show",),
}

ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "Seller": {
        **_SUPPLIER_READ,
        # New quotes are made at /tilbud/ny (QuoteActionsView); the view edits a draft's header and lines.
        "QuoteView": READ + ("can_edit",),
        "QuoteLineView": CRUD + ("can_delete",),
        "QuoteApi": API_WRITE + ("can_convert", "can_send", "can_decline"),
        "OrderApi": API_READ + ("can_invoice_copy", "can_approve", "can_reject"),
        "ApprovalQueueView": ("can_queue", "can_approve", "can_reject"),
        "ProductSearchView": ("can_search",),
        "QuoteActionsView": ("can_new", "can_convert", "can_send", "can_decline"),
        # Hurtigbestilling for a quote to a customer (staff do not place orders: Ny bestilling is the customer's).
        "QuickOrderView": ("can_new",),
        "QuickOrderApi": ("can_check",),
    },
    "CustomerService": {
        **_SUPPLIER_READ,
        "CompanyView": CRUD,
        "PortalUserDBModelView": (
            "can_list",
            "can_show",
            "can_add",
            "can_edit",
            "can_userinfo",
            "can_resetmypassword",
            "can_userinfoedit",
            "can_resetpasswords",
            "can_manage",
        ),
        "UserApi": USER_API,
        "DeliveryAddressView": CRUD,
        "InquiryView": CRUD + ("can_reply", "can_close"),
        "PickupReservationView": READ + ("can_edit", "can_cancel", "can_move"),
        "CompanyApi": API_WRITE,
        "DeliveryAddressApi": API_WRITE,
        "InquiryApi": API_WRITE + ("can_reply", "can_close"),
        "PickupReservationApi": API_WRITE + ("can_cancel", "can_move"),
        "OrderActionsView": ("can_invoice_copy", "can_cancel", "can_ship", "can_bill"),
        "OrderApi": API_READ + ("can_invoice_copy", "can_cancel", "can_ship", "can_bill"),
    },
    # Rapporter: the manager's alone among the staff (Admin has everything).
    "Manager": {**_SUPPLIER_READ, "ReportsView": ("can_list",)},
    "CustomerAdmin": {
        **_CUSTOMER_COMMON,
        "MyCompanyView": READ + ("can_edit",),  # the postal address only (app/domain/companies.py)
        "CompanyApi": API_READ + ("can_put",),
        "CompanyUserView": READ + ("can_add", "can_manage"),
        "UserApi": USER_API,
        "DeliveryAddressView": CRUD,
        "BudgetView": CRUD + ("can_delete",),
        "BudgetDashboardView": ("can_list",),
        "StandingOrderView": READ,
        "StandingOrderFormView": ("can_new", "can_edit", "can_pause", "can_skip"),
        "DeliveryAddressApi": API_WRITE,
        "BudgetApi": API_WRITE + ("can_delete",),
        "StandingOrderApi": API_WRITE + ("can_pause", "can_skip"),
        # Revisjonslogg: the own company's entries (app/domain/audit.py `visible_to`).
        "AuditView": READ,
        "AuditApi": API_READ,
        # Godkjenning hos dere: the company's own approval rules and the queue they fill.
        "InternalApprovalView": ("can_queue", "can_approve", "can_reject", "can_rules", "can_edit_rules"),
        "ApprovalRuleApi": API_WRITE + ("can_delete",),
        "OrderApi": _CUSTOMER_COMMON["OrderApi"] + ("can_internal_approve", "can_internal_reject"),
    },
    "CustomerUser": dict(_CUSTOMER_COMMON),
}

# --- Kontoutskrift (app/views/statements.py, app/api/statements.py) --------------------------------
# Customer admins read their own company's statement, supplier staff any company's; customer
# service (and Admin) register payments. Customer users have none of it.
_STATEMENT_READ = {"StatementView": ("can_list",), "StatementApi": ("can_get",)}
for _role in ("Seller", "Manager", "CustomerAdmin"):
    ROLE_PERMISSIONS[_role].update(_STATEMENT_READ)
ROLE_PERMISSIONS["CustomerService"].update(
    {"StatementView": ("can_list", "can_pay"), "StatementApi": ("can_get", "can_pay")}
)
