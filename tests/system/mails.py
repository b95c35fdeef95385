#!/usr/bin/python3
"""What the system test's SMTP server (tests/smtp/server.py) took, parsed by Python's email.

    mails.py DIR count TO [SUBJECT_REGEX]        how many mails to TO have a matching subject
    mails.py DIR show TO SUBJECT_REGEX FIELD     the last such mail's header FIELD, or `body`
    mails.py DIR grep TO SUBJECT_REGEX TEXT      how many such mails hold TEXT in their body
"""
import email
import email.policy
import glob
import json
import re
import sys


def mails(directory, to, pattern):
    for path in sorted(glob.glob(directory + "/mail-*.eml")):
        envelope = json.load(open(path[:-4] + ".json"))
        if to not in envelope["to"]:
            continue
        with open(path, "rb") as f:
            msg = email.message_from_bytes(f.read(), policy=email.policy.default)
        if re.search(pattern, str(msg["Subject"] or "")):
            yield msg


directory, what, to = sys.argv[1:4]
pattern = sys.argv[4] if len(sys.argv) > 4 else ""
found = list(mails(directory, to, pattern))
if what == "count":
    print(len(found))
elif what == "show":
    if not found:
        print("")
    elif sys.argv[5] == "body":
        print(found[-1].get_content())
    else:
        print(found[-1][sys.argv[5]] or "")
elif what == "grep":
    print(sum(1 for m in found if sys.argv[5] in m.get_content()))
else:
    sys.exit(f"mails.py: unknown command {what}")
