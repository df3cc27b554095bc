"""A short client of ours on OpenStack's sushy library (unmodified, Debian's python3-sushy).

Usage: /usr/bin/python3 redfish_sushy_client.py BASE_URL USERNAME PASSWORD CA_FILE

Opens a session with the library's session authentication, reads the session
service and the account service, prints one JSON line, waits for a line on stdin,
then logs out through the library and prints a second JSON line. Bad credentials
are reported as such (exit status 3), not as a crash.
"""
import json
import sys

import sushy
from sushy import auth, exceptions


def main():
    base, username, password, ca_file = sys.argv[1:5]
    session_auth = auth.SessionAuth(username=username, password=password)
    try:
        # The service's certificate is verified against the CA file (its own self-signed certificate).
        root = sushy.Sushy(base, auth=session_auth, verify=ca_file)
    except exceptions.AccessError as e:
        print(json.dumps({"result": "access_denied", "status": e.status_code, "code": getattr(e, "code", None), "detail": e.detail}), flush=True)
        return 3

    service = root.get_session_service()
    members = service.sessions.get_members()
    accounts = root._conn.get("/redfish/v1/AccountService").json()
    print(json.dumps({
        "result": "ok",
        "redfish_version": root.redfish_version,
        "uuid": root.uuid,
        "token": session_auth.get_session_key(),
        "session_uri": session_auth.get_session_resource_id(),
        "session_timeout": service.session_timeout,
        "service_enabled": service.service_enabled,
        "sessions": [{"id": m.identity, "username": m.username} for m in members],
        "account_service": {k: accounts.get(k) for k in ("AccountLockoutThreshold", "AccountLockoutDuration", "MinPasswordLength", "Accounts", "Roles")},
    }), flush=True)

    sys.stdin.readline()
    session_auth.close()
    print(json.dumps({"result": "closed", "session_uri": session_auth.get_session_resource_id()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
