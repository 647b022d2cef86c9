#!/usr/bin/env python3
"""MESH compatibility check with a client nobody here wrote.

Runs NHS England's `mesh-client` (PyPI) against a real refgate: `refgate init` makes a
demo configuration in a temporary folder, `refgate serve` runs it on free loopback
ports, and mesh-client, with the demo's certificates, mailbox passwords and shared
secret, then:
  1. pings and handshakes as the MSK clinic's mailbox and as the provider's mailbox;
  2. sends the example referral from the clinic's mailbox to the gateway's intake
     mailbox, and tracks it;
  3. lists the provider's inbox, downloads the referral (a FHIR message Bundle, with
     its mex-* headers) and acknowledges it; the inbox is then empty and tracking
     says acknowledged;
  4. checks that a wrong password is refused (403).
Hostname checking stays on (the development server certificate is for localhost).
Exits non-zero on the first failure. Usage: mesh_client_check.py --refgate PATH
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import requests
from mesh_client import MeshClient

CLINIC = ("RCB55", "RCB55MB1")
PROVIDER = ("TTNORTH", "TTNORTHMB1")
INTAKE_MAILBOX = "REFGATE"
WORKFLOW = "TALKING_THERAPIES_REFERRAL"


class CheckFailed(Exception):
    pass


def check(condition, what):
    if not condition:
        raise CheckFailed(what)
    print(f"ok   {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def secret(path):
    return path.read_text().strip()


def client(demo, port, org, mailbox, password=None):
    certs = demo / "certs"
    return MeshClient(
        f"https://localhost:{port}",
        mailbox,
        password if password is not None else secret(demo / "keys" / "mesh" / f"{org}.password"),
        shared_key=secret(demo / "keys" / "mesh" / "shared.key").encode(),
        cert=(str(certs / "orgs" / f"{org}.pem"), str(certs / "orgs" / f"{org}-key.pem")),
        verify=str(certs / "ca.pem"),
        check_hostname=True,
        max_retries=0,
        timeout=30,
        application_name="refgate-mesh-client-check",
    )


def wait_until_up(demo, port, server):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CheckFailed(f"refgate serve exited with {server.returncode}")
        try:
            with client(demo, port, *CLINIC) as c:
                c.ping()
                return
        except requests.exceptions.ConnectionError:
            time.sleep(0.2)
    raise CheckFailed("the gateway did not start within 60 s")


def round_trip(demo, port):
    example = (demo / "example-referral.json").read_bytes()
    with client(demo, port, *CLINIC) as clinic, client(demo, port, *PROVIDER) as provider:
        check(clinic.ping().get("ping") is True, "GET /messageexchange/_ping")
        clinic.handshake()
        print("ok   clinic handshake")
        provider.handshake()
        print("ok   provider handshake")

        message_id = clinic.send_message(
            INTAKE_MAILBOX, example, workflow_id=WORKFLOW, content_type="application/json"
        )
        check(bool(message_id), f"clinic sent the example referral by MESH ({message_id})")
        tracked = clinic.track_message(message_id)
        check(tracked.get("status") == "accepted", f"tracking: status {tracked.get('status')}")
        check(tracked.get("recipient") == PROVIDER[1], f"tracking: routed to {tracked.get('recipient')}")

        ids = list(provider.iterate_message_ids())
        check(message_id in ids, f"provider inbox lists the referral ({len(ids)} message(s))")
        msg = provider.retrieve_message(message_id)
        bundle = json.loads(msg.read())
        msg.close()
        check(bundle.get("resourceType") == "Bundle" and bundle.get("type") == "message",
              "download is a FHIR message Bundle")
        kinds = {e.get("resource", {}).get("resourceType") for e in bundle.get("entry", [])}
        check({"MessageHeader", "ServiceRequest", "Patient", "DocumentReference"} <= kinds,
              "Bundle carries MessageHeader, ServiceRequest, Patient and the original document")
        check(msg.message_type == "DATA", f"mex-MessageType {msg.message_type}")
        check(msg.sender == CLINIC[1], f"mex-From {msg.sender}")
        check(msg.recipient == PROVIDER[1], f"mex-To {msg.recipient}")
        check(msg.workflow_id == WORKFLOW, f"mex-WorkflowID {msg.workflow_id}")
        check(msg.content_type == "application/fhir+json", f"content type {msg.content_type}")

        provider.acknowledge_message(message_id)
        print("ok   provider acknowledged the referral")
        check(message_id not in provider.list_messages(), "acknowledged referral left the inbox")
        tracked = clinic.track_message(message_id)
        check(tracked.get("status") == "acknowledged", f"tracking after acknowledge: {tracked.get('status')}")

    with client(demo, port, *PROVIDER, password="not-the-password") as wrong:
        try:
            wrong.handshake()
            raise CheckFailed("a wrong password was accepted")
        except requests.exceptions.HTTPError as e:
            check(e.response.status_code == 403, f"wrong password refused ({e.response.status_code})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refgate", required=True, help="path to the refgate binary")
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    with tempfile.TemporaryDirectory(prefix="refgate-mesh-") as tmp:
        demo = Path(tmp) / "demo"
        subprocess.run([args.refgate, "init", str(demo)], check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        env = dict(os.environ, RUST_LOG="warn")
        # The demo's SMTP listener has a fixed port; move it out of the way too.
        env["REFGATE__SMTP__LISTEN"] = f"127.0.0.1:{free_port()}"
        log_path = Path(tmp) / "refgate.log"
        with open(log_path, "wb") as log:
            server = subprocess.Popen(
                [args.refgate, "serve", "--config", str(demo / "refgate.toml"), "--listen", f"127.0.0.1:{port}"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until_up(demo, port, server)
            round_trip(demo, port)
        except Exception as e:  # noqa: BLE001 -- any failure fails the check, with the gateway's log
            print(f"FAIL {type(e).__name__}: {e}", file=sys.stderr)
            print("-- gateway log (warnings and errors) --", file=sys.stderr)
            print(log_path.read_text(errors="replace")[-4000:], file=sys.stderr)
            return 1
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    print("mesh-client check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
