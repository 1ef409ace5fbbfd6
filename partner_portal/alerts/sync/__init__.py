"""The sync: each customer's Microsoft security data mirrored into the portal's database.

Beat wakes the dispatcher (`dispatch`), which queues one pass per customer and source
that is due. A pass (`passes`) reads what changed since the watermark, page by page,
through the source's client, stores each page (`upsert`) and moves the watermark once
all is committed; every pass that stores something or fails is a `SyncRun` row, and an
idle one is counted on its `SyncState`. What the customer page and `sync_now`
show about it comes from `progress`.

A source (`sources`) is one kind of item from one Microsoft API, such as Defender for
Endpoint alerts or Defender XDR incidents: it declares its client, paging, storage,
permission and limits, and the rest of the sync asks it rather than branching on names.
The Celery tasks in `partner_portal/alerts/tasks.py` only take IDs and call in here.
"""
