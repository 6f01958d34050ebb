"""What the devices layer tells the layers above it, sent after the change is
committed; connected in the higher apps' ``AppConfig.ready()``."""

from django.dispatch import Signal

# New readings were stored. Keyword arguments: worker_ids (the workers with
# new readings), urgent_ids (those whose batches carried an SOS or a fall).
readings_stored = Signal()

# A device said where its wearer is (the optional "zone" of a batch), after
# the batch was stored. Keyword arguments: worker_id, zone, at.
zone_reported = Signal()
