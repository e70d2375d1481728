"""Over TLS, publishes from several threads share one connection without corrupting it: only
the transport's network thread writes to the socket."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from contract.protocol import DeviceTopics, TopicAddress
from device.mqtt.transport import BrokerAccount, MqttTransport, Outgoing, PublishRef
from tenant.broker.process import MosquittoProcess
from tenant.broker.tls import make_broker_tls

TOPICS = DeviceTopics("lib-a", "jk-aaaaaaaaaaaaaaaaaaaa")
THREADS = 4
MESSAGES = 150
PAYLOAD = b"x" * 20_000  # several TLS records each


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connects = 0
        self.disconnects = 0
        self.acked: list[PublishRef] = []
        self.problems: list[str] = []

    def connected(self, generation: int) -> None:
        with self.lock:
            self.connects += 1

    def disconnected(self, generation: int) -> None:
        with self.lock:
            self.disconnects += 1

    def received(self, address: TopicAddress, payload: bytes) -> None:
        pass

    def published(self, ref: PublishRef, problem: str | None) -> None:
        with self.lock:
            self.acked.append(ref)
            if problem:
                self.problems.append(problem)


def test_concurrent_publishes_over_tls_keep_the_connection(tmp_path: Path) -> None:
    tls = make_broker_tls(tmp_path / "tls", ("127.0.0.1",))
    with MosquittoProcess(tmp_path / "broker", tls=tls) as broker:
        recorder = Recorder()
        account = BrokerAccount(
            broker.host, broker.port, True, TOPICS.device_id, "-", ca_file=tls.ca_file
        )
        will = Outgoing(TOPICS.status, b'{"v":1,"online":false}', retain=True)
        transport = MqttTransport(account, TOPICS, recorder, will=will)
        transport.start()
        try:
            deadline = time.monotonic() + 10
            while not transport.connected and time.monotonic() < deadline:
                time.sleep(0.02)
            assert transport.connected

            sent: list[PublishRef | None] = []

            # To its own ack topic (the anonymous broker allows it), which the transport is
            # subscribed to: the network thread then writes PUBACKs while the others publish.
            def publish_many() -> None:
                for _ in range(MESSAGES):
                    sent.append(transport.publish(Outgoing(TOPICS.ack, PAYLOAD)))

            threads = [threading.Thread(target=publish_many) for _ in range(THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            deadline = time.monotonic() + 20
            while len(recorder.acked) < THREADS * MESSAGES and time.monotonic() < deadline:
                time.sleep(0.05)
            before_close = (recorder.connects, recorder.disconnects)
        finally:
            transport.close()
    assert None not in sent  # every publish was handed to the live connection
    assert before_close == (1, 0)  # one connection, never dropped
    assert len(recorder.acked) == THREADS * MESSAGES and not recorder.problems
