"""Handlelister: the rules (who keeps a list, names, lines checked as order lines), the pages (list,
list page, "Legg i bestilling", "Legg i handleliste" from an order) and the API, under the tenancy
guard: another company's list, line or order is 404 on every door.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select, update

from app.domain import shopping_lists as rules
from app.domain.catalogue import LineInput
from app.domain.errors import NotAllowed, NotFound, ValidationFailed
from app.models import Order, Product, ShoppingList, ShoppingListLine
from app.tenancy import clear_request_tenant, set_request_tenant
from tests.factories import World
from tests.helpers import Caller, actor, client_as, count_rows, db_session, flashes, text_of


def _list_id(world: World, tenant: str = "a") -> int:
    shopping_list = getattr(world, tenant).shopping_list
    assert shopping_list is not None
    return shopping_list.id


# --- the rules ------------------------------------------------------------------------------------


@pytest.fixture()
def domain(app: Flask, world: World):  # type: ignore[no-untyped-def]
    """A session inside a request of company A (the guard on), rolled back afterwards."""
    with app.test_request_context():
        set_request_tenant(world.a.company.id)
        with db_session(app) as s:
            yield s
            s.rollback()
        clear_request_tenant()


def test_who_keeps_a_list(domain, world: World) -> None:  # type: ignore[no-untyped-def]
    shopping_list = rules.get_list(domain, _list_id(world))
    creator = actor(world.a.user, "CustomerUser")
    assert rules.may_keep(creator, shopping_list)
    assert rules.may_keep(actor(world.a.admin, "CustomerAdmin"), shopping_list)
    # Another user of the company (not an admin) reads it but does not keep it.
    colleague = actor(world.a.admin, "CustomerUser")
    assert not rules.may_keep(colleague, shopping_list)
    with pytest.raises(NotAllowed):
        rules.rename_list(domain, colleague, shopping_list.id, "Nytt navn")
    # Supplier staff read only.
    staff = actor(world.staff["CustomerService"], "CustomerService")
    assert not rules.may_keep(staff, shopping_list)
    with pytest.raises(NotAllowed):
        rules.create_list(domain, staff, "Kundeservice sin liste")


def test_another_companys_list_does_not_exist(domain, world: World) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound):
        rules.get_list(domain, _list_id(world, "b"))
    with pytest.raises(NotFound):
        rules.delete_list(domain, actor(world.a.admin, "CustomerAdmin"), _list_id(world, "b"))
    with pytest.raises(NotFound):
        rules.add_order_lines(domain, actor(world.a.user, "CustomerUser"), world.b.order.id, new_name="Stjålet")


def test_names_are_unique_in_the_company_and_not_blank(domain, world: World) -> None:  # type: ignore[no-untyped-def]
    user = actor(world.a.user, "CustomerUser")
    with pytest.raises(ValidationFailed) as blank:
        rules.create_list(domain, user, "   ")
    assert "name" in blank.value.errors
    with pytest.raises(ValidationFailed) as taken:
        rules.create_list(domain, user, "Faste  varer hansen")  # spaces collapse: the same name
    assert taken.value.errors["name"] == "Dere har allerede en handleliste med dette navnet."
    # Company B's list of the same name is no hindrance (and is not revealed).
    made = rules.create_list(domain, user, "Faste varer berg")
    assert made.company_id == world.a.company.id and made.created_by_id == world.a.user.id


def test_lines_are_checked_as_order_lines(domain, world: World) -> None:  # type: ignore[no-untyped-def]
    user = actor(world.a.user, "CustomerUser")
    with pytest.raises(ValidationFailed) as bad:
        rules.add_lines(
            domain,
            user,
            _list_id(world),
            [
                LineInput(
                    product_id=world.configurable.id, quantity=1, width=500, depth=90, fabric="Ull grå", colour="Eik"
                )
            ],
        )
    assert "lines[0].width" in bad.value.errors
    good = LineInput(product_id=world.configurable.id, quantity=2, width=160, depth=90, fabric="Ull grå", colour="Eik")
    shopping_list = rules.add_lines(domain, user, _list_id(world), [good])
    assert [(ln.product_id, ln.quantity) for ln in shopping_list.lines][-1] == (world.configurable.id, 2)


def test_order_lines_onto_a_new_list_leave_out_what_cannot_be_ordered(domain, world: World) -> None:  # type: ignore[no-untyped-def]
    domain.execute(update(Product).where(Product.id == world.product.id).values(active=False))
    with pytest.raises(ValidationFailed) as none_left:
        rules.add_order_lines(domain, actor(world.a.user, "CustomerUser"), world.a.order.id, new_name="Tom")
    assert "lines" in none_left.value.errors


# --- the pages ------------------------------------------------------------------------------------


def test_list_page_shows_the_companys_lists_only(app: Flask, world: World) -> None:
    body = text_of(client_as(app, "hansen.bruker").get("/shoppinglistview/list/"))
    assert "Faste varer hansen" in body and "Faste varer berg" not in body
    assert 'id="new-shopping-list"' in body
    staff = text_of(client_as(app, "kundeservice").get("/shoppinglistview/list/"))
    assert "Faste varer hansen" in staff and "Faste varer berg" in staff
    assert 'id="new-shopping-list"' not in staff


def test_another_companys_list_and_lines_are_404(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.admin")
    foreign = _list_id(world, "b")
    with db_session(app) as s:
        foreign_line = s.scalars(select(ShoppingListLine.id).where(ShoppingListLine.shopping_list_id == foreign)).one()
    assert client.get(f"/shoppinglistview/show/{foreign}").status_code == 404
    assert client.post(f"/handlelister/{foreign}/navn", data={"name": "x"}).status_code == 404
    assert client.post(f"/handlelister/{foreign}/slett").status_code == 404
    assert client.post(f"/handlelister/{foreign}/linjer", data={"lines-0-product_id": "1"}).status_code == 404
    assert client.post(f"/handlelister/linje/{foreign_line}/endre", data={"lines-0-quantity": "9"}).status_code == 404
    assert client.post(f"/handlelister/linje/{foreign_line}/fjern").status_code == 404
    assert client.get(f"/handlelister/fra-ordre/{world.b.order.id}").status_code == 404
    assert count_rows(app, ShoppingListLine, shopping_list_id=foreign) == 1


def test_make_a_list_add_change_remove_lines_rename_delete(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    response = client.post("/handlelister/ny", data={"name": "Møterom"})
    assert response.status_code == 302
    list_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    added = client.post(
        f"/handlelister/{list_id}/linjer",
        data={"lines-0-product_id": str(world.product.id), "lines-0-quantity": "6"},
    )
    assert added.status_code == 302
    with db_session(app) as s:
        line = s.scalars(select(ShoppingListLine).where(ShoppingListLine.shopping_list_id == list_id)).one()
        line_id = line.id
    page = text_of(client.get(f"/shoppinglistview/show/{list_id}"))
    assert "Kontorstol Basic" in page and 'id="add-lines"' in page
    client.post(
        f"/handlelister/linje/{line_id}/endre",
        data={"lines-0-product_id": str(world.product.id), "lines-0-quantity": "0"},
    )
    assert ("danger", "Antall må være minst 1.") in flashes(client)
    client.post(
        f"/handlelister/linje/{line_id}/endre",
        data={"lines-0-product_id": str(world.product.id), "lines-0-quantity": "8"},
    )
    with db_session(app) as s:
        assert s.get(ShoppingListLine, line_id).quantity == 8  # type: ignore[union-attr]
    client.post(f"/handlelister/{list_id}/navn", data={"name": "Møterom 2. etasje"})
    client.post(f"/handlelister/linje/{line_id}/fjern")
    assert count_rows(app, ShoppingListLine, shopping_list_id=list_id) == 0
    with db_session(app) as s:
        assert s.get(ShoppingList, list_id).name == "Møterom 2. etasje"  # type: ignore[union-attr]
    assert client.post(f"/handlelister/{list_id}/slett").status_code == 302
    assert count_rows(app, ShoppingList, id=list_id) == 0


def test_a_colleague_reads_and_orders_but_does_not_change(app: Flask, world: World) -> None:
    from tests.factories import make_user

    with db_session(app) as s:
        from app.models import Company

        make_user(s, app.appbuilder.sm, "hansen.kollega", "CustomerUser", s.get(Company, world.a.company.id))
        s.commit()
    client = client_as(app, "hansen.kollega")
    list_id = _list_id(world)
    page = text_of(client.get(f"/shoppinglistview/show/{list_id}"))
    assert 'id="order-chosen"' in page and 'id="keeper-note"' in page and 'id="add-lines"' not in page
    client.post(f"/handlelister/{list_id}/navn", data={"name": "Kapret"})
    assert any("Bare den som laget handlelisten" in m for _c, m in flashes(client))
    with db_session(app) as s:
        assert s.get(ShoppingList, list_id).name == "Faste varer hansen"  # type: ignore[union-attr]
    # The customer admin keeps every list of the company.
    client_as(app, "hansen.admin").post(f"/handlelister/{list_id}/navn", data={"name": "Faste varer"})
    with db_session(app) as s:
        assert s.get(ShoppingList, list_id).name == "Faste varer"  # type: ignore[union-attr]


def test_legg_i_bestilling_posts_the_ticked_lines_to_the_order_form(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    list_id = _list_id(world)
    client.post(
        f"/handlelister/{list_id}/linjer",
        data={
            "lines-0-product_id": str(world.configurable.id),
            "lines-0-quantity": "1",
            "lines-0-width": "160",
            "lines-0-depth": "90",
            "lines-0-fabric": "Ull grå",
            "lines-0-colour": "Eik",
        },
    )
    page = text_of(client.get(f"/shoppinglistview/show/{list_id}"))
    fields = re.findall(r'<input type="(?:hidden|checkbox)" form="to-order" name="([^"]+)" value="([^"]*)"', page)
    assert ("lines-0-product_id", str(world.product.id)) in fields
    assert ("lines-1-width", "160") in fields
    # The browser sends what is ticked: only the second line here.
    posted = {k: v for k, v in fields if k != "lines-0-product_id"} | {"prefill": "1"}
    before = count_rows(app, Order)
    form = text_of(client.post("/bestill/", data=posted))
    assert count_rows(app, Order) == before
    assert f'<option value="{world.configurable.id}" selected' in form
    assert f'<option value="{world.product.id}" selected' not in form


def test_a_list_line_no_longer_sold_is_flagged(app: Flask, world: World) -> None:
    with db_session(app) as s:
        s.execute(update(Product).where(Product.id == world.product.id).values(active=False))
        s.commit()
    page = text_of(client_as(app, "hansen.bruker").get(f"/shoppinglistview/show/{_list_id(world)}"))
    assert "Kan ikke bestilles lenger" in page


def test_legg_i_handleliste_from_an_order(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    order_page = text_of(client.get(f"/orderview/show/{world.a.order.id}"))
    assert f'href="/handlelister/fra-ordre/{world.a.order.id}"' in order_page
    form = client.get(f"/handlelister/fra-ordre/{world.a.order.id}")
    assert form.status_code == 200 and "Kontorstol Basic" in text_of(form)
    blank = client.post(f"/handlelister/fra-ordre/{world.a.order.id}", data={"line": "0", "name": ""})
    assert "gi den nye listen et navn" in text_of(blank)
    made = client.post(f"/handlelister/fra-ordre/{world.a.order.id}", data={"line": "0", "name": "Fra ordre"})
    assert made.status_code == 302
    with db_session(app) as s:
        new = s.scalars(select(ShoppingList).where(ShoppingList.name == "Fra ordre")).one()
        assert [(ln.product_id, ln.quantity) for ln in new.lines] == [(world.product.id, 2)]
    # Onto an existing list.
    client.post(f"/handlelister/fra-ordre/{world.a.order.id}", data={"line": "0", "list_id": str(_list_id(world))})
    assert count_rows(app, ShoppingListLine, shopping_list_id=_list_id(world)) == 2


def test_staff_get_no_shopping_list_forms(app: Flask, world: World) -> None:
    client = client_as(app, "kundeservice")
    page = text_of(client.get(f"/shoppinglistview/show/{_list_id(world)}"))
    assert "Faste varer hansen" in page and 'id="add-lines"' not in page and 'id="order-chosen"' not in page
    admin = client_as(app, "admin")
    admin.post(f"/handlelister/{_list_id(world)}/navn", data={"name": "Admin var her"})
    with db_session(app) as s:
        assert s.get(ShoppingList, _list_id(world)).name == "Faste varer hansen"  # type: ignore[union-attr]


# --- the API --------------------------------------------------------------------------------------


def test_api_crud_and_rights(app: Flask, world: World) -> None:
    user = Caller(app, "hansen.bruker", "/api/v1/shopping_list")
    made = user.post("/", {"name": "API-liste", "lines": [{"product_id": world.product.id, "quantity": 3}]})
    assert made.status_code == 201, made.json
    pk = made.json["id"]
    got = user.get(f"/{pk}").json["result"]
    assert got["may_edit"] is True
    assert [(ln["product_id"], ln["quantity"], ln["unit_price"], ln["orderable"]) for ln in got["lines"]] == [
        (world.product.id, 3, "500.00", True)
    ]
    assert user.post("/", {"name": "API-liste"}).status_code == 400
    bad = user.post(f"/{pk}/lines", {"lines": [{"product_id": world.configurable.id, "quantity": 1}]})
    assert bad.status_code == 400 and "lines[0].width" in bad.json["message"]
    line_id = got["lines"][0]["id"]
    assert user.put(f"/line/{line_id}", {"product_id": world.product.id, "quantity": 5}).status_code == 200
    assert user.put(f"/{pk}", {"name": "API-liste 2"}).status_code == 200
    # Supplier staff read it, change nothing.
    staff = Caller(app, "kundeservice", "/api/v1/shopping_list")
    assert staff.get(f"/{pk}").json["result"]["may_edit"] is False
    admin = Caller(app, "admin", "/api/v1/shopping_list")
    assert admin.put(f"/{pk}", {"name": "Admin"}).status_code == 409
    assert user.delete(f"/line/{line_id}").status_code == 200
    assert user.delete(f"/{pk}").status_code == 200
    assert count_rows(app, ShoppingList, id=pk) == 0


def test_api_another_companys_list_line_order_quote_are_404(app: Flask, world: World) -> None:
    user = Caller(app, "hansen.admin", "/api/v1/shopping_list")
    foreign = _list_id(world, "b")
    with db_session(app) as s:
        foreign_line = s.scalars(select(ShoppingListLine.id).where(ShoppingListLine.shopping_list_id == foreign)).one()
    assert user.get(f"/{foreign}").status_code == 404
    assert user.put(f"/{foreign}", {"name": "x"}).status_code == 404
    assert user.delete(f"/{foreign}").status_code == 404
    assert user.post(f"/{foreign}/lines", {"lines": []}).status_code == 404
    assert user.put(f"/line/{foreign_line}", {"product_id": world.product.id, "quantity": 1}).status_code == 404
    assert user.delete(f"/line/{foreign_line}").status_code == 404
    assert user.get(f"/reorder_lines/order/{world.b.order.id}").status_code == 404
    assert user.get(f"/reorder_lines/quote/{world.b.quote.id}").status_code == 404
    ids = {r["id"] for r in user.get("/", {"page_size": 100}).json["result"]}
    assert foreign not in ids and _list_id(world) in ids


def test_api_reorder_lines_flag_what_can_no_longer_be_ordered(app: Flask, world: World) -> None:
    with db_session(app) as s:
        s.execute(
            update(Product).where(Product.id == world.product.id).values(active=False, unit_price=Decimal("650.00"))
        )
        s.commit()
    user = Caller(app, "hansen.bruker", "/api/v1/shopping_list")
    order = user.get(f"/reorder_lines/order/{world.a.order.id}")
    assert order.status_code == 200
    assert order.json["result"] == [
        {
            "product_id": world.product.id,
            "sku": "STOL-1",
            "product_name": "Kontorstol Basic",
            "quantity": 2,
            "width": None,
            "depth": None,
            "fabric": None,
            "colour": None,
            "unit_price": "650.00",
            "orderable": False,
            "problem": "Kan ikke bestilles lenger",
        }
    ]
    quote = user.get(f"/reorder_lines/quote/{world.a.quote.id}").json["result"]
    assert quote[0]["unit_price"] == "650.00" and quote[0]["quantity"] == 1


def test_two_users_making_the_same_list_at_once_get_one(domain, world: World, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The name check can pass for both; the unique constraint then refuses the second, as a message."""
    monkeypatch.setattr(rules, "_name_taken", lambda *a, **k: False)
    with pytest.raises(ValidationFailed) as second:
        rules.create_list(domain, actor(world.a.admin, "CustomerAdmin"), "Faste varer hansen")
    assert second.value.errors == {"name": "Dere har allerede en handleliste med dette navnet."}
