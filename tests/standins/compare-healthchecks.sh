#!/usr/bin/env bash
# Runs one fixed sequence of requests against a Healthchecks at $1 and prints the answers,
# normalized (UUIDs numbered in order of appearance, timestamps and measured durations
# replaced, http://127.0.0.1:<port> replaced), so that two servers can be diffed:
#
#   tests/standins/compare-healthchecks.sh http://127.0.0.1:8000 > real.txt
#   tests/standins/compare-healthchecks.sh http://127.0.0.1:$PORT > standin.txt
#   diff real.txt standin.txt
#
# FOR SESSIONS ONLY, NOT CI: the real server cannot run in CI (its source has to be fetched);
# see docs/healthchecks.md for how to run it and for the last recorded outcome.
# $2 (or HC_API_KEY) is the project's 32-character API key; default 32 times "K".
# WARNING: it first DELETES EVERY CHECK of that project.
# Needs curl and python3. Takes about 30 s (sleeps to get measurable durations).
set -euo pipefail

B=${1:?usage: $0 BASE_URL [API_KEY]}
K=${2:-${HC_API_KEY:-KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK}}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
i=0

# req LABEL CURL_ARGS... : one request; raw answer kept in $W/NNN.{label,hdr,body}
req() {
  i=$((i + 1))
  local n
  n=$(printf %03d $i)
  printf '%s' "$1" > "$W/$n.label"
  shift
  curl -s -D "$W/$n.hdr" -o "$W/$n.body" "$@" || true
  LAST="$W/$n.body"
}
# jget FIELD : a field of the last JSON answer
jget() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$LAST" "$1"; }
KH="X-Api-Key: $K"
Z=00000000-0000-4000-8000-000000000000
R1=11111111-1111-4111-8111-111111111111
R2=22222222-2222-4222-8222-222222222222

# --- clean slate (not printed) ---
for u in $(curl -s "$B/api/v3/checks/" -H "$KH" |
           python3 -c 'import json,sys; [print(c["uuid"]) for c in json.load(sys.stdin)["checks"]]'); do
  curl -s -o /dev/null -X DELETE "$B/api/v3/checks/$u" -H "$KH"
done

# --- authentication ---
req "GET list, no key" "$B/api/v3/checks/"
req "GET list, 3-char key" "$B/api/v3/checks/" -H "X-Api-Key: abc"
req "GET list, wrong 32-char key" "$B/api/v3/checks/" -H "X-Api-Key: LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL"
req "POST create, no key" -X POST "$B/api/v3/checks/" -d '{"name":"x"}'
req "POST create, wrong key" -X POST "$B/api/v3/checks/" -H "X-Api-Key: LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL" -d '{"name":"x"}'
req "POST create, bad JSON, no key" -X POST "$B/api/v3/checks/" -d '{"name":'
req "DELETE unknown uuid, no key" -X DELETE "$B/api/v3/checks/$Z"
req "DELETE unknown uuid, wrong key" -X DELETE "$B/api/v3/checks/$Z" -H "X-Api-Key: LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL"
req "GET empty list" "$B/api/v3/checks/" -H "$KH"

# --- create and upsert ---
req "create A (unique name)" -X POST "$B/api/v3/checks/" -H "$KH" -H 'Content-Type: application/json' \
  -d '{"name":"web1 http","tags":"nixcloud host-a","timeout":3600,"grace":600,"desc":"d1","unique":["name"]}'
A=$(jget uuid)
req "upsert A (same name, other values)" -X POST "$B/api/v3/checks/" -H "$KH" -H 'Content-Type: application/json' \
  -d '{"name":"web1 http","tags":"nixcloud host-b","timeout":120,"grace":60,"desc":"d2","unique":["name"]}'
req "upsert A with name only (keeps other fields)" -X POST "$B/api/v3/checks/" -H "$KH" -d '{"name":"web1 http","unique":["name"]}'
req "create, no Content-Type header" -X POST "$B/api/v3/checks/" -H "$KH" -H 'Content-Type:' -d '{"name":"ct","unique":["name"]}'
req "upsert, Content-Type text/plain" -X POST "$B/api/v3/checks/" -H "$KH" -H 'Content-Type: text/plain' -d '{"name":"ct","unique":["name"]}'
req "create, api_key in body" -X POST "$B/api/v3/checks/" -d "{\"api_key\":\"$K\",\"name\":\"kb\",\"unique\":[\"name\"]}"
req "create dup #1 (no unique)" -X POST "$B/api/v3/checks/" -H "$KH" -d '{"name":"dup"}'
req "create dup #2 (no unique)" -X POST "$B/api/v3/checks/" -H "$KH" -d '{"name":"dup"}'
req "upsert dup (unique name): first of the two" -X POST "$B/api/v3/checks/" -H "$KH" -d '{"name":"dup","desc":"x","unique":["name"]}'
req "unique name but no name field: new check" -X POST "$B/api/v3/checks/" -H "$KH" -d '{"tags":"noname","unique":["name"]}'
req "unique [name,tags], other tags: new check" -X POST "$B/api/v3/checks/" -H "$KH" -d '{"name":"ct","tags":"zz","unique":["name","tags"]}'
req "empty body: new check with defaults" -X POST "$B/api/v3/checks/" -H "$KH"
req "unknown field ignored" -X POST "$B/api/v3/checks/" -H "$KH" -d '{"name":"uf","foo":1,"unique":["name"]}'
req "update via POST /checks/<uuid>" -X POST "$B/api/v3/checks/$A" -H "$KH" -d '{"desc":"upd"}'

# --- validation ---
v() { req "invalid: $1" -X POST "$B/api/v3/checks/" -H "$KH" -d "$1"; }
v '{"name":"x","timeout":59}'
v '{"name":"t60","timeout":60,"unique":["name"]}'
v '{"name":"t60","timeout":31536000,"unique":["name"]}'
v '{"name":"x","timeout":31536001}'
v '{"name":"x","grace":59}'
v '{"name":"t60","grace":60,"unique":["name"]}'
v '{"name":"t60","grace":31536000,"unique":["name"]}'
v '{"name":"x","grace":31536001}'
v '{"timeout":"3600"}'
v '{"timeout":3600.0}'
v '{"timeout":null}'
v '{"timeout":true}'
v '{"timeout":-5}'
v '{"timeout":99999999999999999999999}'
v '{"timeout":59,"name":5}'
v '{"grace":"x","tags":5}'
v '{"name":null}'
v "{\"name\":\"$(printf 'a%.0s' {1..101})\"}"
v '{"tags":["a"]}'
v '{"desc":5}'
v '{"unique":"name"}'
v '{"unique":["desc"]}'
v '{"unique":[null]}'
v '{"methods":"GET"}'
v '{"slug":"A B"}'
v '{"manual_resume":1}'
v '{"channels":"abc"}'
v '{"channels":","}'
v '{"name":'
v '[1]'
v 'null'

# --- listing and tags ---
for t in 'tg1:alpha beta' 'tg2:alphabet' 'tg3:  beta   gamma '; do
  req "create ${t%%:*}" -X POST "$B/api/v3/checks/" -H "$KH" -d "{\"name\":\"${t%%:*}\",\"tags\":\"${t#*:}\",\"unique\":[\"name\"]}"
done
req "GET list" "$B/api/v3/checks/" -H "$KH"
for q in 'tag=alpha' 'tag=beta' 'tag=alpha&tag=beta' 'tag=beta&tag=gamma' 'tag=nope' 'tag=' 'tag=ALPHA' 'tag=alph' 'tag=alpha%20beta' 'tag=host-b'; do
  req "GET list ?$q" "$B/api/v3/checks/?$q" -H "$KH"
done
req "GET single A" "$B/api/v3/checks/$A" -H "$KH"
req "GET single, no key" "$B/api/v3/checks/$A"
req "GET single unknown" "$B/api/v3/checks/$Z" -H "$KH"
req "GET single uppercase uuid" "$B/api/v3/checks/$(echo "$A" | tr a-f A-F)" -H "$KH"
req "GET single trailing slash" "$B/api/v3/checks/$A/" -H "$KH"
req "GET list without trailing slash" "$B/api/v3/checks" -H "$KH"
req "PUT list" -X PUT "$B/api/v3/checks/" -H "$KH"
req "OPTIONS list" -X OPTIONS "$B/api/v3/checks/"

# --- pings ---
req "create P" -X POST "$B/api/v3/checks/" -H "$KH" -d '{"name":"P","timeout":3600,"grace":600,"unique":["name"]}'
P=$(jget uuid)
PU="$B/ping/$P"
st() { req "status of P after $1" "$B/api/v3/checks/$P" -H "$KH"; }
req "ping POST with body" -X POST "$PU" --data-binary 'hello body'; st success
req "ping GET /start" "$PU/start"; st start
sleep 1.2
req "ping POST /fail with body" -X POST "$PU/fail" --data-binary 'failed out'; st fail
req "ping /0" -X POST "$PU/0" --data-binary 'zero'; st /0
req "ping /2" -X POST "$PU/2" --data-binary 'two'; st /2
req "ping /3" -X POST "$PU/3"
req "ping /255" -X POST "$PU/255"
req "ping /256" -X POST "$PU/256"; st /256
req "ping /-1 (a slug ping)" -X POST "$PU/-1"
req "ping /Foo (slug with capitals)" -X POST "$PU/Foo"
req "ping /foo/start (slug ping)" -X POST "$PU/foo/start"
req "ping /00" -X POST "$PU/00"; st /00
req "ping /log" -X POST "$PU/log" --data-binary 'log line'; st /log
req "ping trailing slash" -X POST "$PU/"
req "ping /start/ (trailing slash)" -X POST "$PU/start/"
req "ping HEAD" -I "$PU"; : > "$LAST"  # curl -I writes the headers as the body
req "ping PUT" -X PUT "$PU"
req "ping uppercase uuid" -X POST "$B/ping/$(echo "$P" | tr a-f A-F)"
req "ping unknown uuid" -X POST "$B/ping/$Z"
req "ping unknown uuid /start" "$B/ping/$Z/start"
req "ping unknown uuid /256" "$B/ping/$Z/256"
req "ping not a uuid" "$B/ping/not-a-uuid"
req "start rid1" -X POST "$PU/start?rid=$R1"
sleep 1.1
req "start rid2" -X POST "$PU/start?rid=$R2"; st "start rid1, start rid2"
sleep 1.1
req "success rid1" -X POST "$PU?rid=$R1"; st "success rid1 (last start was rid2)"
req "/0 rid2" -X POST "$PU/0?rid=$R2"; st "/0 rid2"
req "ping rid=nope" -X POST "$PU?rid=nope"
req "ping rid= (empty)" -X POST "$PU?rid="
req "ping rid without dashes" -X POST "$PU?rid=aaaaaaaaaaaa4aaa8aaaaaaaaaaaaaaa"
req "start, uppercase rid" -X POST "$PU/start?rid=AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA"
sleep 1.1
req "fail, other rid" -X POST "$PU/fail?rid=$R2"; st "start rid A, fail rid2"
python3 -c 'import sys; sys.stdout.buffer.write(b"".join(b"%05d\n" % i for i in range(3334))[:20000])' > "$W/big20000"
req "ping /1 with 20000-byte body" -X POST "$PU/1" --data-binary @"$W/big20000"
head -c 2621441 /dev/zero | tr '\0' a > "$W/toobig"
req "ping with 2621441-byte body" -X POST "$PU" --data-binary @"$W/toobig"
head -c 2621440 /dev/zero | tr '\0' a > "$W/justfits"
req "ping with 2621440-byte body" -X POST "$PU" --data-binary @"$W/justfits"
rm -f "$W/toobig" "$W/justfits"
st "all pings"
NP=$(jget n_pings)
req "GET pings of P" "$B/api/v3/checks/$P/pings/" -H "$KH"
req "GET body of ping 1" "$B/api/v3/checks/$P/pings/1/body" -H "$KH"
req "GET body of the 20000-byte ping (n=$((NP - 1)))" "$B/api/v3/checks/$P/pings/$((NP - 1))/body" -H "$KH"
req "GET body of the 2621440-byte ping" "$B/api/v3/checks/$P/pings/$NP/body" -H "$KH"
req "GET body of ping 2 (no body)" "$B/api/v3/checks/$P/pings/2/body" -H "$KH"
req "GET body of ping 999 (none)" "$B/api/v3/checks/$P/pings/999/body" -H "$KH"
req "GET body, no key" "$B/api/v3/checks/$P/pings/1/body"
req "GET pings, no key" "$B/api/v3/checks/$P/pings/"
req "GET pings, unknown check" "$B/api/v3/checks/$Z/pings/" -H "$KH"
req "GET pings, no trailing slash" "$B/api/v3/checks/$P/pings" -H "$KH"
req "POST pings" -X POST "$B/api/v3/checks/$P/pings/" -H "$KH"

# --- 105 pings: the API shows the last 100, older bodies are gone ---
req "create Q" -X POST "$B/api/v3/checks/" -H "$KH" -d '{"name":"Q","unique":["name"]}'
Q=$(jget uuid)
for _ in $(seq 105); do curl -s -o /dev/null -X POST "$B/ping/$Q" --data-binary b; done
req "GET pings of Q (summary)" "$B/api/v3/checks/$Q/pings/" -H "$KH"
req "GET body of Q ping 5 (beyond the last 100)" "$B/api/v3/checks/$Q/pings/5/body" -H "$KH"
req "GET body of Q ping 6" "$B/api/v3/checks/$Q/pings/6/body" -H "$KH"

# --- delete ---
req "DELETE P" -X DELETE "$B/api/v3/checks/$P" -H "$KH"
req "DELETE P again" -X DELETE "$B/api/v3/checks/$P" -H "$KH"
req "ping deleted P" -X POST "$PU"
req "DELETE unknown uuid" -X DELETE "$B/api/v3/checks/$Z" -H "$KH"
req "GET list ?tag=alpha after deletes" "$B/api/v3/checks/?tag=alpha" -H "$KH"

# --- normalize and print ---
python3 - "$W" <<'EOF'
import glob, hashlib, json, os, re, sys

w = sys.argv[1]
uuids = {}
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
FIXED = {"00000000-0000-4000-8000-000000000000", "11111111-1111-4111-8111-111111111111",
         "22222222-2222-4222-8222-222222222222", "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"}

def norm(s):
    s = re.sub(r"http://127\.0\.0\.1:\d+", "<base>", s)
    def u(m):
        x = m.group(0)
        if x.lower() in FIXED:
            return x
        return "<uuid%d>" % uuids.setdefault(x.lower(), len(uuids) + 1)
    s = UUID.sub(u, s)
    s = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", "<time>", s)
    return s

def fix(obj):
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in ("duration", "last_duration"):
                v = "<seconds>"
            out[k] = fix(v)
        return out
    if isinstance(obj, list):
        return [fix(x) for x in obj]
    return obj

for lab in sorted(glob.glob(os.path.join(w, "*.label"))):
    n = lab[:-6]
    label = open(lab).read()
    hdr = open(n + ".hdr", "rb").read().decode("latin-1")
    body = open(n + ".body", "rb").read()
    blocks = [b for b in hdr.split("\r\n\r\n") if b.strip()]
    blocks = [b for b in blocks if not b.startswith("HTTP/1.1 100")]
    lines = blocks[-1].split("\r\n") if blocks else ["(no answer)"]
    status = " ".join(lines[0].split(" ")[1:2])
    h = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        h[k.strip().lower()] = v.strip()
    print("### " + norm(label))
    print("status: " + status)
    for k in ("content-type", "ping-body-limit", "location", "cache-control",
              "access-control-allow-origin"):
        if k in h:
            print("%s: %s" % (k, norm(h[k])))
    if "access-control-allow-methods" in h:  # the real server's order varies between runs
        print("access-control-allow-methods (sorted): " +
              ", ".join(sorted(x.strip() for x in h["access-control-allow-methods"].split(","))))
    ctype = h.get("content-type", "")
    if ctype.startswith("application/json") and body:
        obj = json.loads(body)
        if "Q (summary)" in label:
            p = obj["pings"]
            print("body: %d pings, n %s..%s, types %s" % (len(p), p[0]["n"], p[-1]["n"],
                  sorted(set(x["type"] for x in p))))
            continue
        print("body: " + norm(json.dumps(fix(obj))))
    elif len(body) > 300:
        if body.startswith(b"<!DOCTYPE html>") or body.startswith(b"\n<!DOCTYPE html>"):
            print("body: <Django DEBUG=True error page, %s>" % ("404" if b"Page not found" in body else "other"))
        else:
            print("body: %d bytes, sha256 %s, starts %r, ends %r" % (
                len(body), hashlib.sha256(body).hexdigest()[:16], body[:12], body[-12:]))
    else:
        print("content-length: %d" % len(body))
        print("body: " + norm(repr(body)))
EOF
