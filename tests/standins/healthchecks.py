#!/usr/bin/env python3
"""Stand-in for a self-hosted Healthchecks server (API v3 and UUID pings), for tests.

Every answer here was observed against a real Healthchecks (see docs/healthchecks.md for the
commit, the setup and the table of requests and answers); tests/standins/compare-healthchecks.sh
runs the same requests against both and diffs them. Written from those observations; none of
Healthchecks' code is copied here.

Python 3 standard library only.

    healthchecks.py --port 0 --api-key KEY [--ping-body-limit 10000] [--fail-mode-file PATH]

prints "listening on PORT" (flushed) once it accepts connections. One project, one read-write
API key. URLs in answers (ping_url, update_url, body_url, badge_url) use http://127.0.0.1:PORT.

Implemented: POST/GET /api/v3/checks/ (?tag= filtering, "unique" upsert), GET/POST/DELETE
/api/v3/checks/<uuid>, GET /api/v3/checks/<uuid>/pings/ and .../pings/<n>/body, and pings
(any method) to /ping/<uuid>[/start|/fail|/log|/<exit status>][?rid=<uuid>].
Slug pings /ping/<ping key>/<slug>... answer as for an unknown slug (404 "not found", or 400
"invalid url format" for a slug with capitals). Not implemented (404 like an unknown URL):
pause/resume, flips, channels, badges, api/v1 and api/v2; no read-only keys. A "schedule" is
kept as the real server keeps it (kind "cron" for one line of five fields, else "oncalendar";
the check then shows "schedule" and "tz" instead of "timeout"), checked only roughly (what the
real server was seen refusing is refused), and such a check never goes late (the stand-in
computes no cron or OnCalendar times, so its next_ping stays null). A "tz" is refused or
renamed as the real server did (NOT_ZONES, CURRENT_ZONE_NAMES).

Production-like (DEBUG=False) error pages: unknown URL or unknown check on the API -> 404 with
Django's plain "Not Found" page; a request body over 2,621,440 bytes -> 400 "Bad Request" page.

Test-only extra, NOT in Healthchecks: GET /_standin/checks/<uuid>/pings returns every stored
ping with its exit status and stored body size (the real API shows neither).

--fail-mode-file PATH: read on every request. "503" -> every request answers 503;
"hang" -> every request sleeps 60 s before being answered normally; anything else or no file ->
normal.
"""

import argparse
import json
import re
import sys
import threading
import time
import uuid
import zoneinfo
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

NOT_FOUND_PAGE = (
    b'\n<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n'
    b"<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n"
    b"</body>\n</html>\n"
)
BAD_REQUEST_PAGE = (
    b'\n<!doctype html>\n<html lang="en">\n<head>\n  <title>Bad Request (400)</title>\n</head>\n'
    b"<body>\n  <h1>Bad Request (400)</h1><p></p>\n</body>\n</html>\n"
)
SERVER_ERROR_PAGE = (
    b'\n<!doctype html>\n<html lang="en">\n<head>\n  <title>Server Error (500)</title>\n</head>\n'
    b"<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n"
)
HTML = "text/html; charset=utf-8"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2621440
PING_LOG_LIMIT = 100  # a profile's default ping_log_limit
MAX_DURATION = timedelta(hours=72)
DEFAULT_TIMEOUT = 86400
DEFAULT_GRACE = 3600
MAX_SECONDS = 31536000  # upper bound for timeout and grace (365 days)

UUID_PATH = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # lowercase only
RID_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n?\Z", re.IGNORECASE
)
ROUTES = [
    ("checks", re.compile(r"^/api/v3/checks/$")),
    ("single", re.compile(rf"^/api/v3/checks/({UUID_PATH})$")),
    ("pings", re.compile(rf"^/api/v3/checks/({UUID_PATH})/pings/$")),
    ("body", re.compile(rf"^/api/v3/checks/({UUID_PATH})/pings/([0-9]+)/body$")),
    ("ping", re.compile(rf"^/ping/({UUID_PATH})/?$")),
    ("ping", re.compile(rf"^/ping/({UUID_PATH})/(start|fail|log)$")),
    ("ping_exit", re.compile(rf"^/ping/({UUID_PATH})/([0-9]+)$")),
    # Anything else of the form /ping/<slug>/<slug>[/start|/fail|/log|/<n>] is a slug ping.
    ("slug_ping", re.compile(r"^/ping/[-a-zA-Z0-9_]+/([-a-zA-Z0-9_]+)(?:/(?:start|fail|log|[0-9]+))?$")),
    ("standin_pings", re.compile(rf"^/_standin/checks/({UUID_PATH})/pings$")),
]

# Fields of the create/update body, in the order the real server validates them
# (the first failing field is the one reported).
STR_FIELDS = {
    "channels": None, "desc": None, "failure_kw": 200, "name": 100, "schedule": 100,
    "slug": 100, "start_kw": 200, "subject": 200, "subject_fail": 200, "success_kw": 200,
    "tags": None, "tz": None,
}
BOOL_FIELDS = {"filter_subject", "filter_body", "filter_http_body", "filter_default_fail",
               "manual_resume"}
DURATION_FIELDS = {"grace", "timeout"}
FIELD_ORDER = [
    "channels", "desc", "failure_kw", "filter_subject", "filter_body", "filter_http_body",
    "filter_default_fail", "grace", "manual_resume", "methods", "name", "schedule", "slug",
    "start_kw", "subject", "subject_fail", "success_kw", "tags", "timeout", "tz", "unique",
]
UNIQUE_VALUES = ("name", "slug", "tags", "timeout", "grace")
SLUG_RE = re.compile(r"^[a-z0-9-_]*\Z")


class Overflow(Exception):
    pass


class Invalid(Exception):
    """A 400 answer {"error": message}."""

    def __init__(self, message, prefix="json validation error: "):
        self.message = prefix + message


# The real server (29b5ec2, session of 2026-12-03) refused these zones, which Python's own
# list has, and stored a current name for these old ones.
NOT_ZONES = {"", "Factory", "localtime", "posixrules"}
CURRENT_ZONE_NAMES = {
    "Europe/Kiev": "Europe/Kyiv",
    "US/Eastern": "America/New_York",
    "EST5EDT": "America/New_York",
    "CET": "Europe/Brussels",
    "Zulu": "Etc/UTC",
    "Asia/Calcutta": "Asia/Kolkata",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
}
SHORTHANDS = {"minutely", "hourly", "daily", "weekly", "monthly", "yearly", "annually",
              "quarterly", "semiannually"}
WEEKDAY_RE = re.compile(r"^((Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*(\.\.|,)?)+$", re.I)


def valid_zone(name):
    return name not in NOT_ZONES and (name == "UTC" or name in zoneinfo.available_timezones())


def plausible_schedule(text):
    """Only a rough check, unlike the real server's parsers (cronsim, oncalendar): it refuses
    what the real server was seen refusing (an empty schedule, "*-*-~01 00:00:00", words
    that are no weekday, shorthand or zone) and takes the rest."""
    lines = [line.strip() for line in text.strip().split("\n")]
    if not lines or not all(lines):
        return False
    for line in lines:
        if len(line.split()) == 5 and "\n" not in text.strip():
            continue
        if "-~" in line:
            return False
        for word in line.split():
            if re.search(r"[A-Za-z]", word) and not (
                word.lower() in SHORTHANDS
                or WEEKDAY_RE.match(word)
                # The real server's parser takes a zone its tz field refuses (Factory).
                or word in zoneinfo.available_timezones()
                or word == "UTC"
            ):
                return False
    return True


def isostring(dt):
    return dt.replace(microsecond=0).isoformat() if dt else None


def validate_spec(data):
    """The body's fields as the real server checks them; raises Invalid or Overflow."""
    data = {k: (0.0 if v is None else v) for k, v in data.items()}
    spec = {}
    for key in FIELD_ORDER:
        if key not in data:
            continue
        v = data[key]
        if key in STR_FIELDS:
            if not isinstance(v, str):
                raise Invalid(f"{key} is not a string")
            limit = STR_FIELDS[key]
            if limit is not None and len(v) > limit:
                raise Invalid(f"{key} is too long")
            if key == "slug" and not SLUG_RE.match(v):
                raise Invalid("slug does not match pattern")
            if key == "tz" and not valid_zone(v):
                raise Invalid("tz is not a valid timezone")
            if key == "tz":
                v = CURRENT_ZONE_NAMES.get(v, v)
            if key == "schedule" and not plausible_schedule(v):
                raise Invalid("schedule is not a valid cron or OnCalendar expression")
        elif key in BOOL_FIELDS:
            if not isinstance(v, bool):
                raise Invalid(f"{key} is not a boolean")
        elif key in DURATION_FIELDS:
            if not isinstance(v, int):  # bool counts as int, as on the real server
                raise Invalid(f"{key} is not a number")
            try:
                timedelta(seconds=v)
            except OverflowError:
                raise Overflow()
            if v < 60:
                raise Invalid(f"{key} is too small")
            if v > MAX_SECONDS:
                raise Invalid(f"{key} is too large")
            v = int(v)
        elif key == "methods":
            if not isinstance(v, str) or v not in ("", "POST"):
                raise Invalid("methods has unexpected value")
        elif key == "unique":
            if not isinstance(v, list):
                raise Invalid("unique is not an array")
            for item in v:
                if not isinstance(item, str) or item not in UNIQUE_VALUES:
                    raise Invalid("an item in 'unique' has unexpected value")
        spec[key] = v
    return spec


class Ping:
    __slots__ = ("id", "n", "created", "kind", "scheme", "remote_addr", "method", "ua", "body",
                 "rid", "exitstatus")


class Check:
    def __init__(self, store):
        self.id = store.next_id()
        self.code = uuid.uuid4()
        self.badge_key = uuid.uuid4()
        self.created = datetime.now(timezone.utc)
        self.name = self.slug = self.tags = self.desc = ""
        self.kind = "simple"
        self.schedule = "* * * * *"
        self.timeout = timedelta(seconds=DEFAULT_TIMEOUT)
        self.grace = timedelta(seconds=DEFAULT_GRACE)
        self.n_pings = 0
        self.status = "new"
        self.last_ping = None
        self.last_start = None
        self.last_start_rid = None
        self.last_duration = None
        self.manual_resume = False
        self.methods = ""
        self.tz = "UTC"
        self.start_kw = self.success_kw = self.failure_kw = ""
        self.filter_subject = self.filter_body = False
        self.filter_http_body = self.filter_default_fail = False
        self.pings = []

    def tags_list(self):
        return [t.strip() for t in self.tags.split(" ") if t.strip()]

    def grace_start(self, with_started=True):
        result = None
        if self.kind == "simple" and self.status == "up":
            result = self.last_ping + self.timeout
        if with_started and self.last_start and self.status != "down":
            result = self.last_start if result is None else min(result, self.last_start)
        return result

    def get_status(self):
        now = datetime.now(timezone.utc)
        if self.last_start and now >= self.last_start + self.grace:
            return "down"
        if self.status in ("new", "paused", "down"):
            return self.status
        gs = self.grace_start(with_started=False)
        if gs is None:
            return "up"
        if now >= gs + self.grace:
            return "down"
        if now >= gs:
            return "grace"
        return "up"

    def to_dict(self, base):
        d = {
            "name": self.name,
            "slug": self.slug,
            "tags": self.tags,
            "desc": self.desc,
            "grace": int(self.grace.total_seconds()),
            "n_pings": self.n_pings,
            "status": self.get_status(),
            "started": self.last_start is not None,
            "last_ping": isostring(self.last_ping),
            "next_ping": isostring(self.grace_start()),
            "manual_resume": self.manual_resume,
            "methods": self.methods,
            "subject": self.success_kw if self.filter_subject else "",
            "subject_fail": self.failure_kw if self.filter_subject else "",
            "start_kw": self.start_kw,
            "success_kw": self.success_kw,
            "failure_kw": self.failure_kw,
            "filter_subject": self.filter_subject,
            "filter_body": self.filter_body,
            "filter_http_body": self.filter_http_body,
            "filter_default_fail": self.filter_default_fail,
            "badge_url": f"{base}/b/2/{self.badge_key}.svg",
        }
        if self.last_duration:
            d["last_duration"] = int(self.last_duration.total_seconds())
        update_url = f"{base}/api/v3/checks/{self.code}"
        d["uuid"] = str(self.code)
        d["ping_url"] = f"{base}/ping/{self.code}"
        d["update_url"] = update_url
        d["pause_url"] = update_url + "/pause"
        d["resume_url"] = update_url + "/resume"
        d["channels"] = ""
        if self.kind == "simple":
            d["timeout"] = int(self.timeout.total_seconds())
        else:
            d["schedule"] = self.schedule
            d["tz"] = self.tz
        return d

    def update(self, spec):
        channels = spec.get("channels")
        if channels is not None and channels not in ("*", ""):
            # The project has no notification channels: every identifier is unknown.
            for s in channels.split(","):
                if s == "":
                    raise Invalid("empty channel identifier", prefix="")
                raise Invalid(f"invalid channel identifier: {s}", prefix="")
        if "name" in spec:
            self.name = spec["name"]
        # As the real server's Spec.kind(): a schedule wins over a timeout.
        if spec.get("schedule"):
            one_line = "\n" not in spec["schedule"].strip()
            cron = one_line and len(spec["schedule"].split()) == 5
            self.kind = "cron" if cron else "oncalendar"
            self.schedule = spec["schedule"]
        elif spec.get("timeout"):
            self.kind = "simple"
            self.timeout = timedelta(seconds=spec["timeout"])
        if "subject" in spec:
            self.success_kw = spec["subject"]
            self.filter_subject = bool(self.success_kw or self.failure_kw)
        if "subject_fail" in spec:
            self.failure_kw = spec["subject_fail"]
            self.filter_subject = bool(self.success_kw or self.failure_kw)
        for key in ("slug", "tags", "desc", "manual_resume", "methods", "tz", "start_kw",
                    "success_kw", "failure_kw", "filter_subject", "filter_body",
                    "filter_http_body", "filter_default_fail"):
            if key in spec:
                setattr(self, key, spec[key])
        if "grace" in spec:
            self.grace = timedelta(seconds=spec["grace"])

    def ping(self, store, remote_addr, scheme, method, ua, body, action, rid, exitstatus):
        now = datetime.now(timezone.utc)
        if action == "start":
            self.last_start = now
            self.last_start_rid = rid
        elif action in ("success", "fail"):
            self.last_ping = now
            self.last_duration = None
            if self.last_start:
                if self.last_start_rid == rid:
                    self.last_duration = self.last_ping - self.last_start
                    self.last_start = None
                elif action == "fail" or rid is None:
                    self.last_start = None
            self.status = "down" if action == "fail" else "up"
        self.n_pings += 1
        p = Ping()
        p.id = store.next_id()
        p.n = self.n_pings
        p.created = now
        p.kind = action if action in ("start", "fail", "ign", "log") else None
        p.remote_addr = remote_addr
        p.scheme = scheme
        p.method = method
        p.ua = ua[:200]
        p.body = body
        p.rid = rid
        p.exitstatus = exitstatus
        self.pings.append(p)
        if self.n_pings % 100 == 0:  # the real server prunes old pings every 100 pings
            threshold = self.n_pings - PING_LOG_LIMIT
            self.pings = [q for q in self.pings if q.n > threshold]

    def fallback_duration(self, p):
        if p.kind not in (None, "fail") or p.n == 1:
            return None
        for q in reversed(self.pings):
            if q.id >= p.id or q.created < p.created - MAX_DURATION:
                continue
            if q.kind == "start" and q.rid == p.rid:
                return p.created - q.created
            if q.kind in (None, "fail") and q.rid == p.rid:
                return None
        return None

    def pings_list(self, base):
        pings = list(reversed(self.pings))[:PING_LOG_LIMIT]
        durations = {}
        if pings:
            starts, misses, earliest = {}, 0, pings[-1]
            for p in reversed(pings):
                if p.kind == "start":
                    starts[p.rid] = p.created
                elif p.kind in (None, "fail"):
                    if p.rid not in starts:
                        if p.created - earliest.created >= MAX_DURATION:
                            durations[p.id] = None
                        else:
                            misses += 1
                    else:
                        durations[p.id] = None
                        start = starts[p.rid]
                        if start and (p.created - start) < MAX_DURATION:
                            durations[p.id] = p.created - start
                    starts[p.rid] = None
            if misses > 10:
                durations = {p.id: None for p in pings}
        out = []
        for p in pings:
            d = {
                "type": p.kind or "success",
                "date": p.created.isoformat(),
                "n": p.n,
                "scheme": p.scheme,
                "remote_addr": p.remote_addr,
                "method": p.method,
                "ua": p.ua,
                "rid": str(p.rid) if p.rid else None,
                "body_url": f"{base}/api/v3/checks/{self.code}/pings/{p.n}/body" if p.body
                else None,
            }
            dur = durations[p.id] if p.id in durations else self.fallback_duration(p)
            if dur is not None:
                d["duration"] = round(dur.total_seconds(), 2)
            out.append(d)
        return out


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.checks = {}  # uuid -> Check, in creation order
        self._id = 0

    def next_id(self):
        self._id += 1
        return self._id


def match_keywords(haystack, keywords):
    for s in keywords.split(","):
        s = s.strip()
        if s and s in haystack:
            return True
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle and delayed ACKs add 40 ms to
    # every answer on a kept-alive connection (timing only; the answers are the same).
    disable_nagle_algorithm = True
    server_version = "WSGIServer/0.2"
    sys_version = "CPython"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    # -- plumbing -------------------------------------------------------------------------

    def send(self, status, body=b"", ctype=HTML, headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "same-origin")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj, headers=None):
        self.send(status, json.dumps(obj), "application/json", headers)

    def cors(self, methods):
        return {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Headers": "X-Api-Key",
            "Access-Control-Allow-Methods": ", ".join(methods + ["OPTIONS"]),
            "Access-Control-Max-Age": "600",
        }

    def never_cache(self):
        return {
            "Expires": self.date_time_string(),
            "Cache-Control": "max-age=0, no-cache, no-store, must-revalidate, private",
        }

    def base(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def read_body(self):
        """The request body; None if it is over the upload limit (already answered 400)."""
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        if length > self.server.upload_max:
            self.send(400, BAD_REQUEST_PAGE)
            return None
        return data

    def handle_any(self):
        fail_file = self.server.fail_mode_file
        if fail_file:
            try:
                with open(fail_file) as f:
                    mode = f.read().strip()
            except OSError:
                mode = ""
            if mode == "503":
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self.send(503, b"503 Service Unavailable\n", "text/plain")
                return
            if mode == "hang":
                time.sleep(60)
        url = urlsplit(self.path)
        self.query = parse_qs(url.query, keep_blank_values=True)
        path = url.path
        for name, rx in ROUTES:
            m = rx.match(path)
            if m:
                return getattr(self, "route_" + name)(*m.groups())
        # Django's APPEND_SLASH: redirect if the path with a slash would match.
        if not path.endswith("/") and any(rx.match(path + "/") for _, rx in ROUTES):
            loc = path + "/" + ("?" + url.query if url.query else "")
            self.read_body_discard()
            return self.send(301, b"", HTML, {"Location": loc})
        self.read_body_discard()
        self.send(404, NOT_FOUND_PAGE)

    def read_body_discard(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = handle_any

    # -- authentication ---------------------------------------------------------------------

    def authorize(self, parse_json):
        """(ok, json_dict). On failure the answer has been sent."""
        data = {}
        if parse_json:
            body = self.read_body()
            if body is None:
                return False, None
            if body:
                try:
                    data = json.loads(body.decode())
                except ValueError:
                    self.send_json(400, {"error": "could not parse request body"},
                                   self.cors_now)
                    return False, None
                if not isinstance(data, dict):
                    self.send_json(400, {"error": "json validation error: value is not an object"},
                                   self.cors_now)
                    return False, None
        else:
            self.read_body_discard()
        if "X-Api-Key" in self.headers:
            key = self.headers["X-Api-Key"]
        elif "api_key" in data:
            key = str(data["api_key"])
        else:
            key = ""
        if len(key) != 32:
            self.send_json(401, {"error": "missing api key"}, self.cors_now)
            return False, None
        if key != self.server.api_key:
            self.send_json(401, {"error": "wrong api key"}, self.cors_now)
            return False, None
        return True, data

    def cors_gate(self, methods):
        """Answers OPTIONS and other methods; True if the view should run."""
        self.cors_now = self.cors(methods)
        if self.command == "OPTIONS":
            self.read_body_discard()
            self.send(204, b"", HTML, self.cors_now)
            return False
        if self.command not in methods:
            self.read_body_discard()
            self.send(405, b"", HTML, self.cors_now)
            return False
        return True

    # -- API ----------------------------------------------------------------------------------

    def route_checks(self):
        if not self.cors_gate(["GET", "POST"]):
            return
        store = self.server.store
        if self.command == "POST":
            ok, data = self.authorize(parse_json=True)
            if not ok:
                return
            try:
                spec = validate_spec(data)
            except Invalid as e:
                return self.send_json(400, {"error": e.message}, self.cors_now)
            except Overflow:
                return self.send(500, SERVER_ERROR_PAGE)
            with store.lock:
                check = self.lookup(spec)
                created = check is None
                if created:
                    check = Check(store)
                try:
                    check.update(spec)
                except Invalid as e:
                    return self.send_json(400, {"error": e.message}, self.cors_now)
                if created:
                    store.checks[check.code] = check
                body = check.to_dict(self.base())
            return self.send_json(201 if created else 200, body, self.cors_now)
        ok, _ = self.authorize(parse_json=False)
        if not ok:
            return
        tags = set(self.query.get("tag", []))
        slug = self.query.get("slug", [""])[-1]
        with store.lock:
            out = [c.to_dict(self.base()) for c in store.checks.values()
                   if (not tags or tags.issubset(c.tags_list())) and (not slug or c.slug == slug)]
        self.send_json(200, {"checks": out}, self.cors_now)

    def lookup(self, spec):
        unique = spec.get("unique")
        if not unique:
            return None
        for field in unique:
            if field not in spec:
                return None
        for c in self.server.store.checks.values():
            if "name" in unique and c.name != spec["name"]:
                continue
            if "slug" in unique and c.slug != spec["slug"]:
                continue
            if "tags" in unique and c.tags != spec["tags"]:
                continue
            if "timeout" in unique and c.timeout != timedelta(seconds=spec["timeout"]):
                continue
            if "grace" in unique and c.grace != timedelta(seconds=spec["grace"]):
                continue
            return c
        return None

    def get_check(self, code):
        return self.server.store.checks.get(uuid.UUID(code))

    def route_single(self, code):
        if not self.cors_gate(["POST", "DELETE", "GET"]):
            return
        store = self.server.store
        ok, data = self.authorize(parse_json=(self.command == "POST"))
        if not ok:
            return
        with store.lock:
            check = self.get_check(code)
            if check is None:
                return self.send(404, NOT_FOUND_PAGE)
            if self.command == "GET":
                return self.send_json(200, check.to_dict(self.base()), self.cors_now)
            if self.command == "DELETE":
                body = check.to_dict(self.base())
                del store.checks[check.code]
                return self.send_json(200, body, self.cors_now)
            try:
                spec = validate_spec(data)
                check.update(spec)
            except Invalid as e:
                return self.send_json(400, {"error": e.message}, self.cors_now)
            except Overflow:
                return self.send(500, SERVER_ERROR_PAGE)
            return self.send_json(200, check.to_dict(self.base()), self.cors_now)

    def route_pings(self, code):
        if not self.cors_gate(["GET"]):
            return
        ok, _ = self.authorize(parse_json=False)
        if not ok:
            return
        with self.server.store.lock:
            check = self.get_check(code)
            if check is None:
                return self.send(404, NOT_FOUND_PAGE)
            out = check.pings_list(self.base())
        self.send_json(200, {"pings": out}, self.cors_now)

    def route_body(self, code, n):
        if not self.cors_gate(["GET"]):
            return
        ok, _ = self.authorize(parse_json=False)
        if not ok:
            return
        n = int(n)
        with self.server.store.lock:
            check = self.get_check(code)
            if check is None or n <= check.n_pings - PING_LOG_LIMIT:
                return self.send(404, NOT_FOUND_PAGE)
            found = [p for p in check.pings if p.n == n]
            if not found or not found[0].body:
                return self.send(404, NOT_FOUND_PAGE)
            body = found[0].body
        self.send(200, body, "text/plain", self.cors_now)

    def route_standin_pings(self, code):
        self.read_body_discard()
        with self.server.store.lock:
            check = self.get_check(code)
            if check is None:
                return self.send(404, NOT_FOUND_PAGE)
            out = [{"n": p.n, "type": p.kind or "success", "method": p.method,
                    "exitstatus": p.exitstatus, "rid": str(p.rid) if p.rid else None,
                    "body_size": len(p.body), "date": p.created.isoformat()}
                   for p in check.pings]
        self.send_json(200, {"pings": out})

    # -- pings --------------------------------------------------------------------------------

    def route_slug_ping(self, slug):
        # Slug pings are not implemented: the answer for a check that does not exist.
        self.read_body_discard()
        if slug != slug.lower():
            return self.send(400, b"invalid url format")
        self.send(404, b"not found")

    def route_ping_exit(self, code, status):
        return self.route_ping(code, None, int(status))

    def route_ping(self, code, action=None, exitstatus=None):
        nc = self.never_cache()
        store = self.server.store
        with store.lock:
            check = self.get_check(code)
        if check is None:
            self.read_body_discard()
            return self.send(404, b"not found", HTML, nc)
        if exitstatus is not None and exitstatus > 255:
            self.read_body_discard()
            return self.send(400, b"invalid url format", HTML, nc)
        body = self.read_body()
        if body is None:
            return
        body = body[: self.server.ping_body_limit]
        action = action or "success"
        if exitstatus is not None and exitstatus > 0:
            action = "fail"
        if check.methods == "POST" and self.command != "POST":
            action = "ign"
        if action != "ign" and check.filter_http_body:
            text = body.decode(errors="replace")
            if check.failure_kw and match_keywords(text, check.failure_kw):
                action = "fail"
            elif check.success_kw and match_keywords(text, check.success_kw):
                action = "success"
            elif check.start_kw and match_keywords(text, check.start_kw):
                action = "start"
            elif check.filter_default_fail:
                action = "fail"
            else:
                action = "ign"
        rid = None
        rid_values = self.query.get("rid")
        if rid_values is not None:
            rid_str = rid_values[-1]
            if not RID_RE.match(rid_str):
                return self.send(400, b"invalid uuid format", HTML, nc)
            rid = uuid.UUID(rid_str.strip())
        remote = self.headers.get("X-Forwarded-For", self.client_address[0]).split(",")[0]
        scheme = self.headers.get("X-Forwarded-Proto", "http")
        with store.lock:
            if store.checks.get(check.code) is not check:  # deleted meanwhile
                return self.send(404, b"not found", HTML, nc)
            check.ping(store, remote, scheme, self.command, self.headers.get("User-Agent", ""),
                       body, action, rid, exitstatus)
        headers = {"Ping-Body-Limit": str(self.server.ping_body_limit),
                   "Access-Control-Allow-Origin": "*"}
        headers.update(nc)
        self.send(200, b"OK", HTML, headers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--ping-body-limit", type=int, default=10000)
    ap.add_argument("--fail-mode-file")
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.store = Store()
    server.api_key = args.api_key
    server.ping_body_limit = args.ping_body_limit
    server.upload_max = max(DATA_UPLOAD_MAX_MEMORY_SIZE, args.ping_body_limit)
    server.fail_mode_file = args.fail_mode_file
    print(f"listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
