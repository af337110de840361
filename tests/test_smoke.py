from tests.helpers import api_token, login


def test_login_page_and_api_login(client, world):
    assert client.get("/login/").status_code == 200
    login(client, "hansen.bruker")
    assert api_token(client, "berg.admin")
