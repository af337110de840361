import re
from tests.conftest import login
def test_probe(app, world):
    c = app.test_client(); login(c, "hansen.admin")
    r = c.get("/budgetview/add")
    body = r.get_data(as_text=True)
    print(r.status_code)
    i = body.find('name="user"'); print(body[i-200:i+1500])
    for amount in ["abc", "-5", "1,5", "1.555", "99999999999999", ""]:
        r = c.post("/budgetview/add", data={"period": "month", "amount": amount, "user": str(world.b.user.id)})
        t = r.get_data(as_text=True)
        print(amount, r.status_code, re.findall(r'help-block[^>]*>([^<]*)<', t)[:5], re.findall(r'alert[^>]*>\s*(?:<[^>]*>\s*)*([^<]{3,200})', t)[:3])
    r = c.post("/budgetview/add", data={"period": "month", "amount": "100", "user": str(world.b.user.id)})
    t = r.get_data(as_text=True)
    print("foreign user", r.status_code, re.findall(r'help-block[^>]*>([^<]*)<', t)[:5], r.headers.get("Location"))
    r = c.post("/budgetview/add", data={"period": "week", "amount": "100"})
    t = r.get_data(as_text=True)
    print("bad period", r.status_code, re.findall(r'help-block[^>]*>([^<]*)<', t)[:5])
