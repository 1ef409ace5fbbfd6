"""The migration that adds the expected tenant's ID copies GUIDs and leaves domains alone."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("tenants", "0003_expected_tenant_help")]
AFTER = [("tenants", "0004_customer_expected_tenant_id")]


@pytest.mark.django_db(transaction=True)
def test_guids_are_copied_and_domains_wait_for_a_look_up() -> None:
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps.get_model("tenants", "Customer")
        # Rows of the historical model, as they stood before the migration: deliberately
        # built by hand, since the factories build today's model.
        old.objects.create(
            display_name="Guid", expected_tenant="9F3E6C1A-52B7-4A8D-9C1E-0D2F4B6A8E10"
        )
        old.objects.create(display_name="Domain", expected_tenant="contoso.onmicrosoft.com")
        old.objects.create(display_name="None", expected_tenant="")

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)  # the test run's outbound-network guard would fail any call
        new = executor.loader.project_state(AFTER).apps.get_model("tenants", "Customer")
        stored = dict(new.objects.values_list("display_name", "expected_tenant_id"))
        assert stored == {
            "Guid": "9f3e6c1a-52b7-4a8d-9c1e-0d2f4b6a8e10",
            "Domain": "",
            "None": "",
        }
    finally:
        # Leave every app fully migrated for the tests that follow.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
