from tests.e2e.helpers import create_customer, sign_up


async def test_a_new_business_signs_up_and_creates_a_customer(client):
    owner = await sign_up(client)
    customer = await create_customer(client, owner)

    listed = await (await client.get("/v1/customers", headers=owner.auth)).get_json()

    assert [c["id"] for c in listed["data"]] == [customer["id"]]
