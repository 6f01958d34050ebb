import pytest, threading, time, sys
from tests.devices.wsclient import batch, connected, hr_series, send
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

async def test_dbg(alice_device, monkeypatch):
    _, token = alice_device
    from django.db import connections
    import channels.db as cdb
    orig = cdb.close_old_connections
    def coc(**kw):
        sys.stderr.write(f"coc enter {threading.current_thread().name}\n")
        try:
            orig(**kw)
        except BaseException as e:
            sys.stderr.write(f"coc raised {e!r}\n"); raise
        sys.stderr.write(f"coc ok {threading.current_thread().name} open after: {connections['default'].connection is not None}\n")
    monkeypatch.setattr(cdb, "close_old_connections", coc)
    comm = await connected(token)
    ack = await send(comm, batch(1, hr_series(3)))
    await comm.disconnect()
