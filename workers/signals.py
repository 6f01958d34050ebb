"""What the people layer tells the layers above it. Each signal is sent after
the change it reports is committed; the apps that react connect to it in
their ``AppConfig.ready()`` (workers imports none of them)."""

from django.dispatch import Signal

# Something a worker's alerts are judged on changed outside the readings (a
# check-in). Keyword arguments: worker_id.
health_data_changed = Signal()

# A worker withdrew consent: nothing more of theirs may be taken in.
# Keyword arguments: worker_id.
consent_withdrawn = Signal()
