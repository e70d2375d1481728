"""The ingester: stores what kiosks publish over MQTT (plays, status, reported state, command
results) in the tenant's database, and acknowledges plays once they are committed."""

from tenant.ingest.handlers import IngestCounters, IngestHandler, Outgoing
from tenant.ingest.ingester import Ingester, IngestError

__all__ = ["IngestCounters", "IngestError", "IngestHandler", "Ingester", "Outgoing"]
