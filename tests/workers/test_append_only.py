"""The access log, the consent history and the worker events outlive any
deletion: deleting a worker or their sign-in is refused (people are
deactivated), the site administrators' group may not delete workers or
devices, and on PostgreSQL not even the application's own database role can
UPDATE or DELETE those rows (a trigger, workers migration 0008)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError

from accounts.role_groups import GROUP_OF_ROLE, role_group
from workers.models import AccessLog, Consent, Worker, WorkerEvent
from workers.services import access_log_record, worker_event_record

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)


def test_deleting_a_worker_with_an_access_log_is_refused(alice, clara):
    access_log_record(accessor=clara, worker=alice, what="worker page")
    with pytest.raises(ProtectedError):
        alice.delete()
    assert AccessLog.objects.filter(worker=alice).count() == 1


def test_deleting_a_worker_with_a_consent_history_is_refused(alice):
    assert Consent.objects.filter(worker=alice).exists()
    with pytest.raises(ProtectedError):
        Worker.objects.filter(pk=alice.pk).delete()
    assert Consent.objects.filter(worker=alice).exists()


def test_deleting_a_workers_sign_in_is_refused(alice):
    with pytest.raises(ProtectedError):
        alice.user.delete()
    assert Worker.objects.filter(pk=alice.pk).exists()


def test_worker_events_cannot_be_changed_or_deleted(alice, adam):
    worker_event_record(worker_id=alice.pk, kind="device_linked", detail="A-1", by=adam)
    event = WorkerEvent.objects.get()
    event.detail = "nothing"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


def test_the_site_administrators_may_not_delete_workers_or_devices(db):
    group = Group.objects.get(name=GROUP_OF_ROLE["site_admin"])
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert "change_worker" in codenames and "add_device" in codenames
    assert not {"delete_worker", "delete_device", "view_reading", "view_accesslog", "change_user"} & codenames


def test_a_site_administrator_cannot_delete_a_worker_in_the_admin(client, alice, adam):
    adam.groups.add(role_group("site_admin"))
    client.force_login(adam)
    response = client.post(f"/admin/workers/worker/{alice.pk}/delete/", {"post": "yes"})
    assert response.status_code in (302, 403)
    assert Worker.objects.filter(pk=alice.pk).exists()


# -- PostgreSQL: the database refuses, whatever the application does --------------------------


def raw(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@postgresql_only
@pytest.mark.parametrize("table", ["workers_accesslog", "workers_consent", "workers_workerevent"])
def test_the_database_refuses_updates_and_deletes(alice, clara, adam, table):
    access_log_record(accessor=clara, worker=alice, what="worker page")
    worker_event_record(worker_id=alice.pk, kind="device_linked", detail="A-1", by=adam)
    with pytest.raises(DatabaseError, match="never changed or deleted"):
        raw(f"UPDATE {table} SET worker_id = %s", [alice.pk])
    with pytest.raises(DatabaseError, match="never changed or deleted"):
        raw(f"DELETE FROM {table} WHERE worker_id = %s", [alice.pk])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE worker_id = %s", [alice.pk])
        assert cursor.fetchone()[0] >= 1


@postgresql_only
def test_new_rows_are_still_written(alice, clara):
    access_log_record(accessor=clara, worker=alice, what="worker page")
    assert AccessLog.objects.filter(worker=alice).exists()
