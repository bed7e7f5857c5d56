async def test_live_server_login_and_me(client):
    await client.login("shuyang.supervisor")
    data = await client.data("{ me { username scope { supervises } } }")
    assert data["me"] == {"username": "shuyang.supervisor", "scope": {"supervises": ["321322"]}}
