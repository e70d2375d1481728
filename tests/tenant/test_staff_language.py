"""staff_users.language (revision 0008) on SQLite and PostgreSQL: a new account has none, the
console saves one and clears it, and another account keeps its own."""

from __future__ import annotations

from tenant.store import StaffUser, Tenant, TenantStore


def user(name: str) -> StaffUser:
    return StaffUser("lib-a", name, "!", "curator", "[]", False, 1, 1)


def test_the_language_is_kept_on_the_account_and_cleared(database_url: str) -> None:
    store = TenantStore(database_url)
    try:
        store.put_tenant(Tenant("lib-a", "Lib A", "localhost", 1883, False, 1))
        assert store.insert_user(user("carla")) and store.insert_user(user("anna"))
        assert store.get_user("lib-a", "carla") == user("carla")  # language None
        assert store.update_user("lib-a", "carla", language="fr")
        found = store.get_user("lib-a", "carla")
        assert found is not None and found.language == "fr"
        other = store.get_user("lib-a", "anna")
        assert other is not None and other.language is None
        assert store.update_user("lib-a", "carla", language=None)
        assert store.get_user("lib-a", "carla") == user("carla")
    finally:
        store.close()
