#!/usr/bin/python3
"""Parses mails with Python's own MIME parser (email, policy default: RFC 2047 headers and
quoted-printable/base64 bodies decoded) and prints them as one JSON list:

    /usr/bin/python3 tests/smtp/mail.py FILE.eml ...
    -> [{"headers": {"Subject": [...], ...}, "body": "...", "content_type": "...", "charset": "..."}]

Header values are lists (a header may repeat); names keep their case.
"""

import email
import email.policy
import json
import sys

out = []
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        msg = email.message_from_bytes(f.read(), policy=email.policy.default)
    headers = {}
    for name, value in msg.items():
        headers.setdefault(name, []).append(str(value))
    out.append(
        {
            "headers": headers,
            "body": msg.get_content(),
            "content_type": msg.get_content_type(),
            "charset": msg.get_content_charset(),
            "defects": [type(d).__name__ for d in msg.defects],
        }
    )
json.dump(out, sys.stdout)
