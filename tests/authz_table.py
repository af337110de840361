"""Who may use which route: the hand-written source of truth for tests/test_authz_matrix.py.

Every endpoint of `app.url_map` must have an entry in `ROUTES` (FAB actions: one entry per action
name in `ACTIONS`), or the matrix test fails and names the missing endpoint. An entry lists the
principals allowed to use the route: the six roles and `ANON` (not logged in). It is written from
the role descriptions in DESIGN.md, NOT generated from app/roles.py, so that a wrong line in
roles.py (or a view checking the wrong permission) makes the matrix fail.

When you add a route: add its endpoint here with the roles that should reach it, then run
`pytest tests/test_authz_matrix.py`. If the route takes `<pk>` and is not a ModelView/ModelRestApi
route, say which model the id belongs to in `PK_MODELS`.
"""

from __future__ import annotations

from collections.abc import Iterable

ANON = "Anonymous"
ADMIN, SELLER, CS, MANAGER = "Admin", "Seller", "CustomerService", "Manager"
CADMIN, CUSER = "CustomerAdmin", "CustomerUser"

ROLES = (ADMIN, SELLER, CS, MANAGER, CADMIN, CUSER)
PRINCIPALS = (ANON, *ROLES)
SUPPLIER = frozenset({ADMIN, SELLER, CS, MANAGER})
CUSTOMER = frozenset({CADMIN, CUSER})
LOGGED_IN = SUPPLIER | CUSTOMER
PUBLIC = LOGGED_IN | {ANON}
ONLY_ADMIN = frozenset({ADMIN})
NOBODY: frozenset[str] = frozenset()


def _s(*names: Iterable[str] | str) -> frozenset[str]:
    out: set[str] = set()
    for n in names:
        out |= {n} if isinstance(n, str) else set(n)
    return frozenset(out)


def view(name: str, **methods: frozenset[str]) -> dict[str, frozenset[str]]:
    """Entries for the named methods of one view: view("OrderView", list=..., show=...)."""
    return {f"{name}.{method}": roles for method, roles in methods.items()}


def admin_only(name: str, *methods: str) -> dict[str, frozenset[str]]:
    return {f"{name}.{method}": ONLY_ADMIN for method in methods}


# FAB's security views as app/security.py registers them (no download route: no uploads).
_FAB_CRUD = ("list", "show", "add", "edit", "delete")

ROUTES: dict[str, frozenset[str]] = {
    # --- public: logging in, language, static files -------------------------------------------
    "AuthDBView.login": PUBLIC,
    "AuthDBView.logout": PUBLIC,
    "RateLimitedSecurityApi.login": PUBLIC,
    # Needs a *refresh* token; the matrix sends access tokens, so nobody gets through (422/401).
    "RateLimitedSecurityApi.refresh": NOBODY,
    "LocaleView.index": PUBLIC,
    "UtilView.back": PUBLIC,
    "static": PUBLIC,
    # --- sessions, tokens and throttled logins ----------------------------------------------------
    # (logging out ends the session on the server; the API logout revokes its tokens)
    # The code step of a two-factor login: only with a password-checked login pending; anonymous
    # without one is sent to the login page, a logged-in user home.
    "AuthDBView.login_code": LOGGED_IN,
    "RateLimitedSecurityApi.logout": LOGGED_IN,
    # --- two-factor login -----------------------------------------------------------------------------
    # (the code step of the login, enrolment and recovery codes on Min profil)
    # Enrolment, recovery codes, turning it off: every logged-in user, on the own account only.
    **view("MfaView", index=LOGGED_IN, start=LOGGED_IN, confirm=LOGGED_IN, recovery_codes=LOGGED_IN, disable=LOGGED_IN),
    # The user admin resets a user's two-factor login (lost phone): Admin anybody's, customer service
    # the customers' users (app/domain/mfa.py; a staff user's page refuses it for customer service).
    "PortalUserDBModelView.reset_mfa": _s(ADMIN, CS),
    **view("MfaApi", status=LOGGED_IN, enrol=LOGGED_IN, confirm=LOGGED_IN, recovery_codes=LOGGED_IN, disable=LOGGED_IN),
    # --- audit log ----------------------------------------------------------------------------------------
    # (Admin reads all of it, a customer admin the own company's entries)
    # Read-only: no add, edit or delete route exists. Other staff (Manager included) do not read it:
    # it holds every user's client addresses and security events, and DESIGN.md gives Admin
    # "everything, incl. roles and permissions"; Manager's "everything" is the business data.
    **view("AuditView", list=_s(ADMIN, CADMIN), show=_s(ADMIN, CADMIN)),
    **view("AuditApi", get_list=_s(ADMIN, CADMIN), get=_s(ADMIN, CADMIN), info=_s(ADMIN, CADMIN)),
    "appbuilder.static": PUBLIC,
    "plotly_js": PUBLIC,  # plotly.js from the installed package, for every page with charts
    # --- every logged-in user ------------------------------------------------------------------
    "PortalIndexView.index": LOGGED_IN,  # anonymous visitors are sent to the login page
    **view("UserInfoEditView", this_form_get=LOGGED_IN, this_form_post=LOGGED_IN),
    **view("ResetMyPasswordView", this_form_get=LOGGED_IN, this_form_post=LOGGED_IN),
    "PortalUserDBModelView.userinfo": LOGGED_IN,  # leads to Min profil
    # Min profil: contact information, password, newsletter (the user's own).
    **view("ProfileView", index=LOGGED_IN, contact=LOGGED_IN, password=LOGGED_IN, newsletter=LOGGED_IN),
    # --- Varsler: every logged-in user's own notices and mail choices (another user's id: 404) ---------
    "ProfileView.mail_choices": LOGGED_IN,
    **view("NoticeView", index=LOGGED_IN, open=LOGGED_IN, read=LOGGED_IN, read_all=LOGGED_IN),
    **view(
        "NoticeApi",
        get_list=LOGGED_IN,
        read=LOGGED_IN,
        read_all=LOGGED_IN,
        mail_choices=LOGGED_IN,
        set_mail_choices=LOGGED_IN,
    ),
    # The welcome mail's set-password link: public, the signed token says whose password it is.
    "PasswordLinkView.set_password": PUBLIC,
    # --- FAB's security administration: Admin only --------------------------------------------
    **admin_only("ResetPasswordView", "this_form_get", "this_form_post"),
    **admin_only("RoleModelView", *_FAB_CRUD),
    # FAB's permission lists are read-only (base_permissions = can_list): their other routes
    # exist but refuse everybody, Admin included.
    **admin_only("PermissionModelView", "list"),
    **admin_only("ViewMenuModelView", "list"),
    **admin_only("PermissionViewModelView", "list"),
    **{
        f"{v}.{m}": NOBODY
        for v in ("PermissionModelView", "ViewMenuModelView", "PermissionViewModelView")
        for m in ("show", "add", "edit", "delete")
    },
    **admin_only("UserGroupModelView", *_FAB_CRUD),
    "UserStatsChartView.chart": ONLY_ADMIN,
    "MenuApi.get_menu_data": ONLY_ADMIN,
    # The OpenAPI document and Swagger UI describe the whole back-office API: not public, not for
    # customers; supplier staff may read them.
    "OpenApi.get": SUPPLIER,
    "SwaggerView.show": SUPPLIER,
    # User administration: Admin and customer service ("manages any company's users").
    **view("PortalUserDBModelView", list=_s(ADMIN, CS), show=_s(ADMIN, CS), add=_s(ADMIN, CS), edit=_s(ADMIN, CS)),
    # --- companies -----------------------------------------------------------------------------
    # Supplier staff see all companies; customer service edits them.
    **view("CompanyView", list=SUPPLIER, show=SUPPLIER, add=_s(ADMIN, CS), edit=_s(ADMIN, CS)),
    # "Bedriftsinformasjon" and "Brukere" on Min side: the customer admin's own company.
    # The customer admin changes the postal address there (the other fields are ours).
    **view(
        "MyCompanyView", list=_s(ADMIN, CADMIN), show=_s(ADMIN, CADMIN), mine=_s(ADMIN, CADMIN), edit=_s(ADMIN, CADMIN)
    ),
    # Brukere: the customer admin creates users of its company, deactivates, reactivates,
    # promotes/demotes them and sends a new password link; customer service does it from its
    # user admin (PortalUserDBModelView) and both through the user API.
    **view(
        "CompanyUserView",
        list=_s(ADMIN, CADMIN),
        show=_s(ADMIN, CADMIN),
        add=_s(ADMIN, CADMIN),
        deactivate=_s(ADMIN, CADMIN),
        activate=_s(ADMIN, CADMIN),
        promote=_s(ADMIN, CADMIN),
        demote=_s(ADMIN, CADMIN),
        send_link=_s(ADMIN, CADMIN),
    ),
    **view(
        "PortalUserDBModelView",
        deactivate=_s(ADMIN, CS),
        activate=_s(ADMIN, CS),
        promote=_s(ADMIN, CS),
        demote=_s(ADMIN, CS),
        send_link=_s(ADMIN, CS),
    ),
    **view(
        "UserApi",
        get_list=_s(ADMIN, CS, CADMIN),
        get=_s(ADMIN, CS, CADMIN),
        info=_s(ADMIN, CS, CADMIN),
        post=_s(ADMIN, CS, CADMIN),
        deactivate=_s(ADMIN, CS, CADMIN),
        activate=_s(ADMIN, CS, CADMIN),
        promote=_s(ADMIN, CS, CADMIN),
        demote=_s(ADMIN, CS, CADMIN),
        send_link=_s(ADMIN, CS, CADMIN),
        change_password=LOGGED_IN,  # the caller's own password
    ),
    **view(
        "CompanyApi", get_list=LOGGED_IN, get=LOGGED_IN, info=LOGGED_IN, post=_s(ADMIN, CS), put=_s(ADMIN, CS, CADMIN)
    ),  # the customer admin: postal address only (400 for the rest)
    # Delivery addresses: everyone reads (own company's); customer admin and customer service edit.
    **view(
        "DeliveryAddressView", list=LOGGED_IN, show=LOGGED_IN, add=_s(ADMIN, CS, CADMIN), edit=_s(ADMIN, CS, CADMIN)
    ),
    **view(
        "DeliveryAddressApi",
        get_list=LOGGED_IN,
        get=LOGGED_IN,
        info=LOGGED_IN,
        post=_s(ADMIN, CS, CADMIN),
        put=_s(ADMIN, CS, CADMIN),
    ),
    # --- Kontoutskrift (account statement) -----------------------------------------------------
    # The customer admin its own company's, supplier staff any company's; customer users none.
    # Payments ("Registrer innbetaling") are customer service's (and Admin's).
    **view("StatementView", index=SUPPLIER | {CADMIN}, pdf=SUPPLIER | {CADMIN}, export=SUPPLIER | {CADMIN}),
    "StatementView.pay": _s(ADMIN, CS),
    **view("StatementApi", statement=SUPPLIER | {CADMIN}, payment=_s(ADMIN, CS)),
    # --- catalogue -----------------------------------------------------------------------------
    **view("ProductView", list=LOGGED_IN, show=LOGGED_IN),
    **view("StoreView", list=LOGGED_IN, show=LOGGED_IN),
    **view("ProductApi", get_list=LOGGED_IN, get=LOGGED_IN, info=LOGGED_IN),
    "ProductSearchView.search": _s(ADMIN, SELLER, CUSTOMER),  # used by the order and quote forms
    "ProductSearchView.price": _s(ADMIN, SELLER, CUSTOMER),  # the same forms' prices while typing
    # --- orders --------------------------------------------------------------------------------
    **view("OrderView", list=LOGGED_IN, show=LOGGED_IN, export=LOGGED_IN),
    **view("OrderLineView", list=LOGGED_IN, show=LOGGED_IN),
    # The order workflows through the API: the same roles as on the pages.
    **view(
        "OrderApi",
        get_list=LOGGED_IN,
        get=LOGGED_IN,
        info=LOGGED_IN,
        post=_s(ADMIN, CUSTOMER),
        price=_s(ADMIN, CUSTOMER),  # prices of an order being written: whoever may place one
        cancel=_s(ADMIN, CS, CUSTOMER),
        invoice_copy=LOGGED_IN,
        approve=_s(ADMIN, SELLER),
        reject=_s(ADMIN, SELLER),
        shipment=_s(ADMIN, CS),
        invoice=_s(ADMIN, CS),
        # Godkjenning hos dere: the company's customer admins decide on orders their rules hold.
        internal_approve=_s(ADMIN, CADMIN),
        internal_reject=_s(ADMIN, CADMIN),
    ),
    "NewOrderView.new": _s(ADMIN, CUSTOMER),
    # Hurtigbestilling: whoever makes orders or quotes checks pasted/uploaded lines (sellers for a quote).
    "QuickOrderView.new": _s(ADMIN, SELLER, CUSTOMER),
    "QuickOrderApi.check": _s(ADMIN, SELLER, CUSTOMER),
    # Customers cancel their own same-day orders; customer service any order before it ships.
    **view(
        "OrderActionsView",
        cancel=_s(ADMIN, CS, CUSTOMER),
        invoice_copy=LOGGED_IN,
        ship=_s(ADMIN, CS),
        bill=_s(ADMIN, CS),
    ),
    # Approval queue: all supplier staff see it, sellers decide.
    # An order failing a check is approved one at a time with a reason ("Godkjenn likevel").
    **view(
        "ApprovalQueueView",
        queue=SUPPLIER,
        approve=_s(ADMIN, SELLER),
        reject=_s(ADMIN, SELLER),
        override=_s(ADMIN, SELLER),
    ),
    # --- quotes --------------------------------------------------------------------------------
    # New quotes are made on "Nytt tilbud" (QuoteActionsView.new, with lines and prices); FAB's
    # bare add form is left to Admin.
    **view("QuoteView", list=LOGGED_IN, show=LOGGED_IN, add=ONLY_ADMIN, edit=_s(ADMIN, SELLER)),
    **view(
        "QuoteLineView",
        list=LOGGED_IN,
        show=LOGGED_IN,
        add=_s(ADMIN, SELLER),
        edit=_s(ADMIN, SELLER),
        delete=_s(ADMIN, SELLER),
    ),
    **view(
        "QuoteApi",
        get_list=LOGGED_IN,
        get=LOGGED_IN,
        info=LOGGED_IN,
        post=_s(ADMIN, SELLER, CUSTOMER),
        put=_s(ADMIN, SELLER),
        send=_s(ADMIN, SELLER, CUSTOMER),
        decline=_s(ADMIN, SELLER, CUSTOMER),
        convert=_s(ADMIN, SELLER, CUSTOMER),
    ),
    # Sellers and customer users create quotes; a customer converts one to an order.
    **view(
        "QuoteActionsView",
        new=_s(ADMIN, SELLER, CUSTOMER),
        send=_s(ADMIN, SELLER, CUSTOMER),
        decline=_s(ADMIN, SELLER, CUSTOMER),
        convert=_s(ADMIN, SELLER, CUSTOMER),
    ),
    # --- budgets and standing orders: the customer admin's; supplier staff read -----------------
    **view(
        "BudgetView",
        list=SUPPLIER | {CADMIN},
        show=SUPPLIER | {CADMIN},
        add=_s(ADMIN, CADMIN),
        edit=_s(ADMIN, CADMIN),
        delete=_s(ADMIN, CADMIN),
    ),
    **view(
        "BudgetApi",
        get_list=SUPPLIER | {CADMIN},
        get=SUPPLIER | {CADMIN},
        info=SUPPLIER | {CADMIN},
        post=_s(ADMIN, CADMIN),
        put=_s(ADMIN, CADMIN),
        delete=_s(ADMIN, CADMIN),
    ),
    # Bruksgrense – oversikt (charts): the customer admin's own company, supplier staff any company.
    "BudgetDashboardView.index": SUPPLIER | {CADMIN},
    # Faste ordre: every customer user reads the company's plans ("Her finner du informasjon over
    # dine fastordre"); the customer admin creates, changes, pauses and skips; supplier staff read.
    **view("StandingOrderView", list=LOGGED_IN, show=LOGGED_IN),
    **view(
        "StandingOrderApi",
        get_list=LOGGED_IN,
        get=LOGGED_IN,
        info=LOGGED_IN,
        post=_s(ADMIN, CADMIN),
        put=_s(ADMIN, CADMIN),
        pause=_s(ADMIN, CADMIN),
        skip=_s(ADMIN, CADMIN),
    ),
    **view(
        "StandingOrderFormView",
        new=_s(ADMIN, CADMIN),
        edit=_s(ADMIN, CADMIN),
        pause=_s(ADMIN, CADMIN),
        skip=_s(ADMIN, CADMIN),
    ),
    # --- Handlelister: every customer user reads and makes the company's lists; who keeps a list
    # (its creator, the customer admins) is the rules' (app/domain/shopping_lists.py): others are
    # told so (409 / a message), which the matrix counts as let through. Supplier staff read only.
    **view("ShoppingListView", list=LOGGED_IN, show=LOGGED_IN),
    **view(
        "ShoppingListFormView",
        new=_s(ADMIN, CUSTOMER),
        rename=_s(ADMIN, CUSTOMER),
        delete=_s(ADMIN, CUSTOMER),
        add_lines=_s(ADMIN, CUSTOMER),
        edit_line=_s(ADMIN, CUSTOMER),
        remove_line=_s(ADMIN, CUSTOMER),
        from_order=_s(ADMIN, CUSTOMER),
    ),
    **view(
        "ShoppingListApi",
        get_list=LOGGED_IN,
        get=LOGGED_IN,
        info=LOGGED_IN,
        post=_s(ADMIN, CUSTOMER),
        put=_s(ADMIN, CUSTOMER),
        delete=_s(ADMIN, CUSTOMER),
        add_lines=_s(ADMIN, CUSTOMER),
        put_line=_s(ADMIN, CUSTOMER),
        delete_line=_s(ADMIN, CUSTOMER),
        # Bestill igjen: an order's or a quote's lines at today's prices (the guard: own company's).
        order_reorder_lines=LOGGED_IN,
        quote_reorder_lines=LOGGED_IN,
    ),
    # --- Godkjenning hos dere: the company's own approval rules and queue (customer admins) -------
    **view(
        "InternalApprovalView",
        queue=_s(ADMIN, CADMIN),
        approve=_s(ADMIN, CADMIN),
        reject=_s(ADMIN, CADMIN),
        rules_page=_s(ADMIN, CADMIN),
        add_rule=_s(ADMIN, CADMIN),
        toggle_rule=_s(ADMIN, CADMIN),
        delete_rule=_s(ADMIN, CADMIN),
    ),
    **view(
        "ApprovalRuleApi",  # supplier staff read every company's rules, as they read budgets
        get_list=SUPPLIER | {CADMIN},
        get=SUPPLIER | {CADMIN},
        info=SUPPLIER | {CADMIN},
        post=_s(ADMIN, CADMIN),
        put=_s(ADMIN, CADMIN),
        delete=_s(ADMIN, CADMIN),
    ),
    # --- inquiries and click-and-collect -------------------------------------------------------
    # Customers write inquiries and reply in the thread; customer service answers and closes them.
    **view(
        "InquiryView",
        list=LOGGED_IN,
        show=LOGGED_IN,
        add=_s(ADMIN, CS, CUSTOMER),
        edit=_s(ADMIN, CS),
        reply=_s(ADMIN, CS, CUSTOMER),
        close=_s(ADMIN, CS),
    ),
    **view(
        "InquiryApi",
        get_list=LOGGED_IN,
        get=LOGGED_IN,
        info=LOGGED_IN,
        post=_s(ADMIN, CS, CUSTOMER),
        put=_s(ADMIN, CS),
        post_message=_s(ADMIN, CS, CUSTOMER),
        close=_s(ADMIN, CS),
    ),
    # Customer service moves reservations through their states; a customer may cancel its own.
    **view(
        "PickupReservationView",
        list=LOGGED_IN,
        show=LOGGED_IN,
        edit=_s(ADMIN, CS),
        cancel=_s(ADMIN, CS, CUSTOMER),
        ready=_s(ADMIN, CS),
        collected=_s(ADMIN, CS),
        expire=_s(ADMIN, CS),
    ),
    **view(
        "PickupReservationApi",
        get_list=LOGGED_IN,
        get=LOGGED_IN,
        info=LOGGED_IN,
        post=_s(ADMIN, CS),
        put=_s(ADMIN, CS),
        cancel=_s(ADMIN, CS, CUSTOMER),
        ready=_s(ADMIN, CS),
        collected=_s(ADMIN, CS),
        expire=_s(ADMIN, CS),
    ),
    # --- Rapporter: the manager's reports and their CSV files, read-only -----------------------
    **view(
        "ReportsView",
        **{
            m: _s(ADMIN, MANAGER)
            for m in (
                "sales",
                "sales_csv",
                "statuses",
                "statuses_csv",
                "approvals",
                "approvals_csv",
                "customers",
                "customers_csv",
                "budgets",
                "budgets_csv",
            )
        },
    ),
}

# FAB actions (`/action/<name>/<pk>` and `action_post`), keyed "<View>.<action name>". FAB checks
# the action's own permission (its name) on the view.
ACTIONS: dict[str, frozenset[str]] = {
    "PortalUserDBModelView.resetpasswords": ONLY_ADMIN,
    "PortalUserDBModelView.resetmypassword": ONLY_ADMIN,
    "PortalUserDBModelView.userinfoedit": ONLY_ADMIN,
    "RoleModelView.copyrole": ONLY_ADMIN,
}

# Routes that end the login they are called with (sessions, tokens and throttled logins): the
# matrix calls them with a login of their own, not the shared one of the role. The set-password
# link logs out whoever else is logged in in that browser, and that ends the session on the server.
ENDS_LOGIN = frozenset({"AuthDBView.logout", "RateLimitedSecurityApi.logout", "PasswordLinkView.set_password"})

# Endpoints whose refusal is documented to be something other than 401/403/login redirect.
EXTRA_REFUSALS: dict[str, frozenset[int]] = {
    "RateLimitedSecurityApi.refresh": frozenset({422}),  # flask-jwt-extended: "Only refresh tokens"
}

# Model of `<pk>` for routes that are not ModelView/ModelRestApi routes (those are derived from the
# view's datamodel). Values are model class names in app.models (or FAB's security models).
PK_MODELS: dict[str, str] = {
    "StandingOrderFormView.edit": "StandingOrder",
    "StandingOrderFormView.pause": "StandingOrder",
    "StandingOrderFormView.skip": "StandingOrder",
    "OrderActionsView.cancel": "Order",
    "OrderActionsView.ship": "Order",
    "OrderActionsView.bill": "Order",
    "OrderActionsView.invoice_copy": "Invoice",
    "StatementView.pay": "Invoice",
    "StatementApi.payment": "Invoice",
    "ApprovalQueueView.reject": "Order",
    "ApprovalQueueView.override": "Order",
    "InternalApprovalView.approve": "Order",
    "InternalApprovalView.reject": "Order",
    "InternalApprovalView.toggle_rule": "ApprovalRule",
    "InternalApprovalView.delete_rule": "ApprovalRule",
    "QuoteActionsView.send": "Quote",
    "QuoteActionsView.decline": "Quote",
    "QuoteActionsView.convert": "Quote",
    "ShoppingListFormView.rename": "ShoppingList",
    "ShoppingListFormView.delete": "ShoppingList",
    "ShoppingListFormView.add_lines": "ShoppingList",
    "ShoppingListFormView.edit_line": "ShoppingListLine",
    "ShoppingListFormView.remove_line": "ShoppingListLine",
    "ShoppingListFormView.from_order": "Order",
    "ShoppingListApi.put_line": "ShoppingListLine",
    "ShoppingListApi.delete_line": "ShoppingListLine",
    "ShoppingListApi.order_reorder_lines": "Order",
    "ShoppingListApi.quote_reorder_lines": "Quote",
}

# URL parameters that name another row than `pk`: parameter -> model. The matrix fills in the row
# of the same company as `pk` (company A; company B in the foreign-row part).
ROW_PARAMS: dict[str, str] = {
    "invoice_id": "Invoice",
}

# Values for URL parameters other than `pk` (and an action's `name`): "<endpoint>:<param>" first,
# then "<param>".
PARAMS: dict[str, str] = {
    "locale": "nb",
    "token": "ikke-en-gyldig-lenke",  # /passord/<token>: the page says the link is invalid
    "version": "v1",
    "kind": "csv",  # /orderview/eksport/<kind>: the order list as CSV
    "notice_id": "1",  # a notice of whoever got the first one: anybody else's answers 404
    "group_by": "0",
    "filename": "finnes-ikke.txt",
    "appbuilder.static:filename": "css/ab.css",  # a real file under FAB's static folder
}
