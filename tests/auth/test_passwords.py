"""The password rule and the argon2id hashes."""

from __future__ import annotations

import pytest

from cityops.auth.passwords import check_password_rule, hash_password, verify_password
from cityops.errors import InvalidInput


@pytest.mark.parametrize("weak", ["Ab1-x", "alllowercase", "lower-and-symbols", "UPPER12345"])
def test_weak_passwords_are_refused_naming_the_field(weak):
    with pytest.raises(InvalidInput) as info:
        check_password_rule(weak)
    assert info.value.field == "password"


@pytest.mark.parametrize("good", ["Abcdefg1", "abc-def-12", "ABC_DEF_gh", "长城-Great-Wall"])
def test_three_classes_and_eight_characters_pass(good):
    check_password_rule(good)


def test_hashes_are_argon2id_at_production_cost_by_default():
    stored = hash_password("Zhang-wei-2026")
    assert stored.startswith("$argon2id$") and "m=65536,t=3" in stored
    assert verify_password(stored, "Zhang-wei-2026")
    assert not verify_password(stored, "zhang-wei-2026")
    assert not verify_password(None, "Zhang-wei-2026")
    assert not verify_password("not a hash", "Zhang-wei-2026")


def test_accounts_created_in_bulk_cannot_log_in_until_a_password_is_set(
    session, district, client, demo_password
):
    from cityops.auth.actor import SYSTEM
    from cityops.auth.service import AccountSpec, create_accounts, get_user, update_user

    users = create_accounts(
        session,
        actor=SYSTEM,
        district_code=district,
        accounts=[AccountSpec(f"staff-{i}", f"员工{i}", ("inspector",)) for i in range(3)],
    )
    session.commit()
    login = {"username": "staff-1", "password": "anything-1A"}
    assert client.post("/api/v1/auth/login", json=login).status_code == 401
    update_user(session, actor=SYSTEM, user_id=users[1].id, password=demo_password)
    session.commit()
    login["password"] = demo_password
    assert client.post("/api/v1/auth/login", json=login).status_code == 200
    assert get_user(session, user_id=users[0].id).roles == ["inspector"]
