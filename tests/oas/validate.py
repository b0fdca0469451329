#!/usr/bin/env python3
"""Checks that `openwaba serve`'s JSON responses conform to Meta's OpenAPI description of
the Cloud API (shared/reference/meta-openapi/business-messaging-api_v23.0.yaml, OAS 3.1).

Starts the server itself (release binary, temporary data directory, fixed ids and tokens,
a free loopback port), drives the endpoints over real HTTP, and validates every response
body against the response schema of the matching OAS operation: the path template and the
method (given per check, because Graph's `/{Version}/{id}` is one template for a dozen
object types and only the caller knows which object an id names), then the status code.
`$ref`s are resolved over the whole document (jsonschema + referencing, JSON Schema
2020-12, which is OAS 3.1's dialect).

Where the OAS is wrong or stricter than what Meta really sends, an explicit entry of ALLOW
below says which error of which operation is accepted, and why. Nothing is skipped silently:
an allow-listed error is printed on its check's line, and an entry no check needed is
reported at the end.

Usage:  tests/oas/.venv/bin/python tests/oas/validate.py [--bin PATH] [--oas PATH] [-v]
        (tests/oas/install.sh makes the venv; OPENWABA_BIN and OPENWABA_OAS also work)
Output: one line per check, then `N passed, M failed`; exit status 1 if any check failed.
"""

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Optional

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OAS = os.path.join(
    ROOT, "..", "shared", "reference", "meta-openapi", "business-messaging-api_v23.0.yaml"
)

TOKEN = "oas-test-token"
ADMIN = "oas-admin-token"
WABA = "200000000000001"
PHONE = "300000000000001"
NUMBER = "15550001111"
APP = "400000000000001"
# A second number of the same WABA, added through the admin API, that reports failures
# synchronously (131047 as a Graph error) and has a throughput of 1 message/s (130429).
SYNC_PHONE = "300000000000002"
SYNC_NUMBER = "15550002222"
USER = "5511987650001"  # writes first: inside the customer service window
STRANGER = "5511987650099"  # never wrote: outside the window
V = "/v23.0"


# ---- the allow-list ------------------------------------------------------------------------

@dataclass(frozen=True)
class Allow:
    """One accepted schema error: operation, status, JSON path of the instance (as
    jsonschema's `json_path`, `[*]` for any array index), the failing keyword, and a text
    the error message contains."""

    key: str
    operation: str
    status: str
    path: str
    validator: str
    contains: str
    reason: str


ALLOW = [
    # GET /{WABA-ID}/phone_numbers: the OAS makes `status` a required field of every number,
    # but Meta's default field set is id, display_phone_number, verified_name and
    # quality_rating (Meta's "Retrieve Phone Numbers" guide shows exactly those four, and
    # cloud-api.md §6.2 lists the same defaults); `status` comes only with fields=status.
    Allow(
        key="phone-numbers-status-not-default",
        operation="getWhatsAppBusinessAccountPhoneNumbers",
        status="200",
        path="$.data[*]",
        validator="required",
        contains="'status'",
        reason="OAS requires `status` on every number; Meta returns it only when asked "
        "with fields=status (default fields: id, display_phone_number, verified_name, "
        "quality_rating)",
    ),
    # The same edge with fields=status: the OAS enum (PENDING, LINKED, UNLINKED, DELETED,
    # MIGRATED, BANNED, RESTRICTED) has no CONNECTED, which is what Meta reports for a
    # registered number (status goes PENDING -> CONNECTED on registration; the Graph
    # reference's enum also has CONNECTED, DISCONNECTED, FLAGGED, RATE_LIMITED, UNKNOWN).
    Allow(
        key="phone-numbers-status-connected",
        operation="getWhatsAppBusinessAccountPhoneNumbers",
        status="200",
        path="$.data[*].status",
        validator="enum",
        contains="'CONNECTED'",
        reason="OAS status enum lacks CONNECTED, the status Meta reports for a registered "
        "number",
    ),
]

# Status codes an operation answers but the OAS does not document. `sendMessage` and the
# template and media operations document only their 200 (that part of the file was
# generated from Postman success examples), yet Graph answers errors on every path with the
# same envelope. Those responses are validated against the standard Graph error schema the
# other operations of the file use (components/schemas/GraphAPIError: message, type and
# code required, error_subcode integer, fbtrace_id string, ...), not skipped.
UNDOCUMENTED_ERRORS_SCHEMA = "#/components/schemas/GraphAPIError"
UNDOCUMENTED_ERRORS = {
    # operationId: why errors are missing from the OAS for it
    "sendMessage": "OAS documents only 200; Meta's error table (cloud-api.md §3.2) gives "
    "the sync errors of this path (100, 104, 190, 131047, 132001 = 404, ...)",
    "createAuthenticationTemplateWOtpCopyCodeButton": "OAS documents only 200 for "
    "template creation; Graph answers 100 (e.g. duplicate name+language) in its envelope",
    "uploadImage": "OAS documents only 200 for media upload",
    "retrieveMediaUrl": "OAS documents only 200 for media URL retrieval; an unknown or "
    "deleted media id is Graph's 100/33",
    "deleteMedia": "OAS documents only 200 for media deletion",
    "getTemplateByIdDefaultFields": "OAS documents only 200 for GET template",
}


# ---- the OAS -------------------------------------------------------------------------------

def load_oas(path):
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as f:
        doc = yaml.load(f, Loader=loader)
    fix_nullable(doc)
    return doc


def fix_nullable(node):
    """`nullable: true` is OAS 3.0 and means nothing in 3.1 (JSON Schema 2020-12); the file
    uses it once (phone_numbers `username`), plainly meaning "string or null". Turn it into
    the 3.1 spelling, `type: [string, "null"]`, so the intent is what gets validated."""
    if isinstance(node, dict):
        if node.get("nullable") is True and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            del node["nullable"]
        for v in node.values():
            fix_nullable(v)
    elif isinstance(node, list):
        for v in node:
            fix_nullable(v)


def pointer_escape(s):
    return s.replace("~", "~0").replace("/", "~1")


class Oas:
    BASE = "urn:openwaba:meta-oas"

    def __init__(self, path):
        self.doc = load_oas(path)
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(self.BASE, resource)

    def node(self, pointer):
        cur = self.doc
        for part in pointer.lstrip("#/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            cur = cur[part]
        return cur

    def follow(self, node, pointer):
        """Follows `$ref`s of non-schema objects (responses), keeping track of where we are."""
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                raise ValueError(f"$ref cycle at {ref}")
            seen.add(ref)
            pointer = ref
            node = self.node(ref)
        return node, pointer

    def operation(self, template, method):
        ops = self.doc["paths"].get(template)
        if ops is None or method.lower() not in ops:
            return None
        return ops[method.lower()]

    def response_schema(self, template, method, status):
        """(schema pointer, operationId, note) for the response, or raises LookupError."""
        op = self.operation(template, method)
        if op is None:
            raise LookupError(f"the OAS has no {method} {template}")
        op_id = op.get("operationId", f"{method} {template}")
        responses = op.get("responses", {})
        code = str(status)
        key = next((k for k in (code, code[0] + "XX", "default") if k in responses), None)
        if key is None:
            if status >= 400 and op_id in UNDOCUMENTED_ERRORS:
                return (UNDOCUMENTED_ERRORS_SCHEMA, op_id,
                        f"{code} undocumented: validated against {UNDOCUMENTED_ERRORS_SCHEMA} "
                        f"[allow-list: undocumented-errors {op_id}]")
            raise LookupError(f"{op_id} documents no {code} response (has {sorted(responses)})")
        ptr = "#/paths/" + pointer_escape(template) + "/" + method.lower() + "/responses/" + key
        resp, ptr = self.follow(responses[key], ptr)
        content = resp.get("content") or {}
        if "application/json" not in content:
            raise LookupError(f"{op_id} {key} has no application/json content")
        ptr += "/content/application~1json/schema"
        if "schema" not in content["application/json"]:
            raise LookupError(f"{op_id} {key} has no schema")
        return ptr, op_id, None

    def validator(self, pointer):
        schema = {"$ref": self.BASE + pointer}
        return jsonschema.Draft202012Validator(
            schema,
            registry=self.registry,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )


def path_matches(pattern, json_path):
    """`$.data[*].status` matches `$.data[0].status`: `[*]` is any array index."""
    rx = re.escape(pattern).replace(re.escape("[*]"), r"\[\d+\]")
    return re.fullmatch(rx, json_path) is not None


def match_template(template, path):
    """Does the concrete path (with or without `/vNN.N`) fit the OAS template?"""
    segs = [s for s in path.split("?")[0].split("/") if s]
    if segs and re.fullmatch(r"v\d+\.\d+", segs[0]):
        segs = segs[1:]
    tsegs = [s for s in template.split("/") if s]
    if tsegs and tsegs[0] == "{Version}":
        tsegs = tsegs[1:]
    if len(segs) != len(tsegs):
        return False
    return all(t.startswith("{") or t == s for t, s in zip(tsegs, segs))


# ---- the server ----------------------------------------------------------------------------

class Server:
    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="openwaba-oas.")
        env = dict(os.environ)
        env.update(
            OPENWABA_ACCESS_TOKEN=TOKEN,
            OPENWABA_ADMIN_TOKEN=ADMIN,
            OPENWABA_WABA_ID=WABA,
            OPENWABA_PHONE_NUMBER_ID=PHONE,
            OPENWABA_PHONE_NUMBER=NUMBER,
            OPENWABA_APP_ID=APP,
            OPENWABA_THROUGHPUT_MPS="1000",
            OPENWABA_LOG=os.environ.get("OPENWABA_LOG", "info"),
        )
        self.log_path = os.path.join(self.dir, "server.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0",
             "--data-dir", os.path.join(self.dir, "data"), "--log-format", "json"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )
        self.base = None
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                m = re.search(r'"address":"([^"]+)"', f.read())
            if m:
                try:
                    with urllib.request.urlopen(f"http://{m.group(1)}/healthz", timeout=2):
                        self.base = f"http://{m.group(1)}"
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            log = f.read()
        self.stop()
        raise RuntimeError(f"openwaba serve did not become healthy; log:\n{log}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Reply:
    status: int
    content_type: str
    raw: bytes

    def json(self):
        return json.loads(self.raw or b"null")


def http(base, method, path, body=None, token=TOKEN, raw=None, content_type=None):
    if raw is None and body is not None:
        raw = json.dumps(body).encode()
        content_type = content_type or "application/json"
    req = urllib.request.Request(base + path, data=raw, method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return Reply(r.status, r.headers.get("Content-Type", ""), r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.headers.get("Content-Type", ""), e.read())


def multipart(fields, file_field, filename, mime, data):
    boundary = "----openwaba-oas-" + os.urandom(8).hex()
    out = bytearray()
    for k, v in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
            f'filename="{filename}"\r\nContent-Type: {mime}\r\n\r\n').encode()
    out += data + f"\r\n--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


# ---- checks --------------------------------------------------------------------------------

class Run:
    def __init__(self, oas, base, verbose):
        self.oas, self.base, self.verbose = oas, base, verbose
        self.passed = self.failed = 0
        self.used_allow = set()  # keys of ALLOW and UNDOCUMENTED_ERRORS that were needed

    def check(self, name, method, path, template, *, status=200, code=None, body=None,
              raw=None, content_type=None, token=TOKEN) -> Optional[dict]:
        """Sends the request, checks the status (and Graph error code) the scenario expects,
        then validates the body against the OAS response schema. Returns the JSON body."""
        label = f"{name:<38} {method:<6} {template}"
        problems, notes = [], []
        try:
            reply = http(self.base, method, path, body=body, token=token, raw=raw,
                         content_type=content_type)
        except OSError as e:
            self._line(False, label, "?", [f"request failed: {e}"], [])
            return None
        try:
            data = reply.json()
        except ValueError:
            self._line(False, label, reply.status, [f"body is not JSON: {reply.raw[:200]!r}"], [])
            return None
        if reply.status != status:
            problems.append(f"expected HTTP {status}, got {reply.status}: {json.dumps(data)[:300]}")
        if code is not None:
            got = data.get("error", {}).get("code") if isinstance(data, dict) else None
            if got != code:
                problems.append(f"expected error code {code}, got {got}")
        if not reply.content_type.startswith("application/json"):
            problems.append(f"Content-Type is {reply.content_type!r}, the OAS says application/json")
        if not match_template(template, path):
            problems.append(f"{path} does not fit the OAS path {template}")
        try:
            ptr, op_id, note = self.oas.response_schema(template, method, reply.status)
        except LookupError as e:
            problems.append(str(e))
            self._line(False, label, reply.status, problems, notes, data)
            return data
        if note:
            self.used_allow.add(op_id)
            notes.append(note)
        for err in sorted(self.oas.validator(ptr).iter_errors(data), key=lambda e: e.json_path):
            allowed = self._allowed(op_id, reply.status, err)
            if allowed:
                self.used_allow.add(allowed.key)
                notes.append(f"allowed [{allowed.key}] {err.json_path}: {err.message}")
            else:
                problems.append(f"{err.json_path}: {err.message} (schema {'/'.join(map(str, err.schema_path))})")
        self._line(not problems, f"{label} [{op_id}]", reply.status, problems, notes, data)
        return data

    @staticmethod
    def _allowed(op_id, status, err):
        for a in ALLOW:
            if (a.operation == op_id and a.status == str(status) and a.validator == err.validator
                    and path_matches(a.path, err.json_path) and a.contains in err.message):
                return a
        return None

    def _line(self, ok, label, status, problems, notes, data=None):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f"{'PASS' if ok else 'FAIL'}  {label} -> {status}")
        for n in notes:
            print(f"      note: {n}")
        for p in problems:
            print(f"      {p}")
        if self.verbose and data is not None:
            print(f"      body: {json.dumps(data)[:500]}")
        sys.stdout.flush()

    def admin(self, path, body):
        r = http(self.base, "POST", path, body=body, token=ADMIN)
        if r.status != 200:
            raise RuntimeError(f"admin {path} -> {r.status} {r.raw[:300]!r}")
        return r.json()

    def setup_fail(self, what, e):
        self._line(False, f"setup: {what}", "-", [str(e)])


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8ffff3f0005fe02fea7d6a48d0000000049454e44ae426082"
)


def msg(to, kind, payload, **extra):
    b = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": kind,
         kind: payload}
    b.update(extra)
    return b


def run_checks(r: Run):
    M = "/{Version}/{Phone-Number-ID}/messages"
    P = "/{Version}/{Phone-Number-ID}"
    T = "/{Version}/{WABA-ID}/message_templates"
    TID = "/{Version}/{TEMPLATE_ID}"
    MEDIA = "/{Version}/{Media-ID}"
    PROFILE = "/{Version}/{Phone-Number-ID}/whatsapp_business_profile"
    SUBS = "/{Version}/{WABA-ID}/subscribed_apps"

    try:
        r.admin(f"/_admin/phone_numbers/{PHONE}/inbound", {"from": USER})
        r.admin("/_admin/phone_numbers", {"waba_id": WABA, "id": SYNC_PHONE, "number": SYNC_NUMBER,
                                          "sync_failures": True, "throughput_mps": 1})
    except Exception as e:  # noqa: BLE001 - reported as a failed check
        r.setup_fail("admin API", e)
        return

    # -- phone numbers, WABA ------------------------------------------------------------------
    r.check("phone number (default fields)", "GET", f"{V}/{PHONE}", P)
    r.check("phone number (fields)", "GET",
            f"{V}/{PHONE}?fields=id,display_phone_number,verified_name,quality_rating,"
            "code_verification_status,name_status,throughput%7Blevel%7D,messaging_limit_tier,"
            "platform_type,account_mode,is_official_business_account", P)
    r.check("WABA phone numbers (default fields)", "GET", f"{V}/{WABA}/phone_numbers",
            "/{Version}/{WABA-ID}/phone_numbers")
    r.check("WABA phone numbers (fields)", "GET",
            f"{V}/{WABA}/phone_numbers?fields=id,display_phone_number,verified_name,status,"
            "quality_rating,code_verification_status,account_mode,messaging_limit_tier,"
            "is_official_business_account", "/{Version}/{WABA-ID}/phone_numbers")
    r.check("WABA (default fields)", "GET", f"{V}/{WABA}", "/{Version}/{WABA-ID}")
    r.check("WABA (fields)", "GET", f"{V}/{WABA}?fields=id,name,currency,account_review_status",
            "/{Version}/{WABA-ID}")

    # -- registration -------------------------------------------------------------------------
    r.check("deregister", "POST", f"{V}/{PHONE}/deregister",
            "/{Version}/{Phone-Number-ID}/deregister")
    r.check("deregister again (100)", "POST", f"{V}/{PHONE}/deregister",
            "/{Version}/{Phone-Number-ID}/deregister", status=400, code=100)
    r.check("register bad PIN (100)", "POST", f"{V}/{PHONE}/register",
            "/{Version}/{Phone-Number-ID}/register", status=400, code=100,
            body={"messaging_product": "whatsapp", "pin": "12"})
    r.check("register", "POST", f"{V}/{PHONE}/register", "/{Version}/{Phone-Number-ID}/register",
            body={"messaging_product": "whatsapp", "pin": "123456"})

    # -- business profile ---------------------------------------------------------------------
    r.check("profile update", "POST", f"{V}/{PHONE}/whatsapp_business_profile", PROFILE,
            body={"messaging_product": "whatsapp", "about": "Fresh fruit, every day.",
                  "address": "1 Market St", "description": "A shop", "email": "shop@example.com",
                  "websites": ["https://example.com"], "vertical": "RETAIL"})
    r.check("profile get", "GET", f"{V}/{PHONE}/whatsapp_business_profile", PROFILE)
    r.check("profile get (fields)", "GET",
            f"{V}/{PHONE}/whatsapp_business_profile?fields=about,email,websites,vertical", PROFILE)

    # -- webhook subscriptions ----------------------------------------------------------------
    r.check("subscribed_apps subscribe", "POST", f"{V}/{WABA}/subscribed_apps", SUBS)
    r.check("subscribed_apps list", "GET", f"{V}/{WABA}/subscribed_apps", SUBS)
    r.check("subscribed_apps unsubscribe", "DELETE", f"{V}/{WABA}/subscribed_apps", SUBS)

    # -- media --------------------------------------------------------------------------------
    raw, ctype = multipart({"messaging_product": "whatsapp", "type": "image/png"},
                           "file", "dot.png", "image/png", PNG)
    up = r.check("media upload", "POST", f"{V}/{PHONE}/media", "/{Version}/{Phone-Number-ID}/media",
                 raw=raw, content_type=ctype) or {}
    media_id = up.get("id", "0")
    r.check("media URL", "GET", f"{V}/{media_id}", MEDIA)
    r.check("media URL (phone_number_id)", "GET", f"{V}/{media_id}?phone_number_id={PHONE}", MEDIA)
    raw, ctype = multipart({"messaging_product": "whatsapp"}, "file", "a.txt", "text/x-nope", b"x")
    r.check("media upload bad type (131053)", "POST", f"{V}/{PHONE}/media",
            "/{Version}/{Phone-Number-ID}/media", status=400, code=131053, raw=raw,
            content_type=ctype)

    # -- messages -----------------------------------------------------------------------------
    r.check("send text", "POST", f"{V}/{PHONE}/messages", M,
            body=msg(USER, "text", {"body": "hello", "preview_url": False}))
    r.check("send text (unversioned path)", "POST", f"/{PHONE}/messages", M,
            body=msg(USER, "text", {"body": "hello again"}))
    r.check("send text reply (context)", "POST", f"{V}/{PHONE}/messages", M,
            body=msg(USER, "text", {"body": "a reply"}, context={"message_id": "wamid.X"}))
    r.check("send image by id", "POST", f"{V}/{PHONE}/messages", M,
            body=msg(USER, "image", {"id": media_id, "caption": "a dot"}))
    r.check("send image by link", "POST", f"{V}/{PHONE}/messages", M,
            body=msg(USER, "image", {"link": "https://example.com/a.jpg"}))
    r.check("send document by link", "POST", f"{V}/{PHONE}/messages", M,
            body=msg(USER, "document", {"link": "https://example.com/a.pdf", "filename": "a.pdf"}))
    r.check("send interactive button", "POST", f"{V}/{PHONE}/messages", M,
            body=msg(USER, "interactive", {
                "type": "button", "body": {"text": "Pick one"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}},
                                       {"type": "reply", "reply": {"id": "n", "title": "No"}}]}}))
    r.check("send interactive list", "POST", f"{V}/{PHONE}/messages", M,
            body=msg(USER, "interactive", {
                "type": "list", "header": {"type": "text", "text": "Menu"},
                "body": {"text": "Choose"}, "footer": {"text": "Shop"},
                "action": {"button": "Options", "sections": [{"title": "Fruit", "rows": [
                    {"id": "apple", "title": "Apple", "description": "Red"}]}]}}))
    r.check("send interactive cta_url", "POST", f"{V}/{PHONE}/messages", M,
            body=msg(USER, "interactive", {
                "type": "cta_url", "body": {"text": "See the dates"},
                "action": {"name": "cta_url", "parameters": {
                    "display_text": "See Dates", "url": "https://example.com/dates"}}}))
    r.check("send reaction", "POST", f"{V}/{PHONE}/messages", M,
            body=msg(USER, "reaction", {"message_id": "wamid.X", "emoji": "\U0001F600"}))
    r.check("send location", "POST", f"{V}/{PHONE}/messages", M,
            body=msg(USER, "location", {"latitude": 37.758056, "longitude": -122.425332,
                                        "name": "META HQ", "address": "1 Hacker Way"}))
    r.check("send contacts", "POST", f"{V}/{PHONE}/messages", M,
            body={"messaging_product": "whatsapp", "to": USER, "type": "contacts", "contacts": [{
                "name": {"formatted_name": "John Smith", "first_name": "John"},
                "phones": [{"type": "WORK", "phone": "+1 (650) 555-1234", "wa_id": "16505551234"}],
                "emails": [{"type": "WORK", "email": "john@example.com"}]}]})
    r.check("mark read + typing indicator", "POST", f"{V}/{PHONE}/messages", M,
            body={"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X",
                  "typing_indicator": {"type": "text"}})
    r.check("send outside window (async 131047)", "POST", f"{V}/{PHONE}/messages", M,
            body=msg(STRANGER, "text", {"body": "hi"}))

    # -- templates ----------------------------------------------------------------------------
    tpl = {"name": "order_shipped", "language": "en_US", "category": "utility", "components": [
        {"type": "BODY", "text": "Hi {{1}}, your order {{2}} has shipped.",
         "example": {"body_text": [["Ana", "860198"]]}},
        {"type": "FOOTER", "text": "Shop"},
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Thanks"},
                                        {"type": "URL", "text": "Track",
                                         "url": "https://example.com/t/{{1}}",
                                         "example": ["https://example.com/t/42"]}]}]}
    created = r.check("template create", "POST", f"{V}/{WABA}/message_templates", T, body=tpl) or {}
    tid = created.get("id", "0")
    r.check("template create marketing", "POST", f"{V}/{WABA}/message_templates", T,
            body={"name": "fall_sale", "language": "en_US", "category": "marketing", "components": [
                {"type": "HEADER", "format": "TEXT", "text": "Fall Sale"},
                {"type": "BODY", "text": "Hi {{1}}, use code {{2}} for 25% off.",
                 "example": {"body_text": [["Mark", "FALL25"]]}}]})
    r.check("template create duplicate (100)", "POST", f"{V}/{WABA}/message_templates", T,
            status=400, code=100, body=tpl)
    r.check("template list", "GET", f"{V}/{WABA}/message_templates", T)
    r.check("template list (filters, fields)", "GET",
            f"{V}/{WABA}/message_templates?status=APPROVED&fields=name,status,category,language",
            T)
    r.check("template list (paged)", "GET", f"{V}/{WABA}/message_templates?limit=1", T)
    r.check("template list (summary)", "GET",
            f"{V}/{WABA}/message_templates?summary=total_count,message_template_count", T)
    r.check("template get", "GET", f"{V}/{tid}", TID)
    r.check("template get (fields)", "GET", f"{V}/{tid}?fields=name,category,status", TID)
    send_tpl = msg(USER, "template", {
        "name": "order_shipped", "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"},
                                                        {"type": "text", "text": "42"}]},
                       {"type": "button", "sub_type": "url", "index": "1",
                        "parameters": [{"type": "text", "text": "42"}]}]})
    r.check("send template", "POST", f"{V}/{PHONE}/messages", M, body=send_tpl)
    bad = copy.deepcopy(send_tpl)
    bad["template"]["components"][0]["parameters"].pop()
    r.check("send template param count (132000)", "POST", f"{V}/{PHONE}/messages", M,
            status=400, code=132000, body=bad)
    r.check("send unknown template (132001)", "POST", f"{V}/{PHONE}/messages", M, status=404,
            code=132001, body=msg(USER, "template", {"name": "nope", "language": {"code": "en_US"}}))
    try:
        r.admin(f"/_admin/templates/{tid}/status", {"status": "PAUSED"})
        r.check("send paused template (132015)", "POST", f"{V}/{PHONE}/messages", M, status=400,
                code=132015, body=send_tpl)
        r.admin(f"/_admin/templates/{tid}/status", {"status": "APPROVED"})
    except Exception as e:  # noqa: BLE001
        r.setup_fail("admin template status", e)
    r.check("template edit", "POST", f"{V}/{tid}", TID, body={"components": [
        {"type": "BODY", "text": "Hello {{1}}, order {{2}} is on its way.",
         "example": {"body_text": [["Ana", "1"]]}},
        {"type": "FOOTER", "text": "Shop"}]})
    r.check("template delete by name", "DELETE",
            f"{V}/{WABA}/message_templates?name=order_shipped&hsm_id={tid}", T)
    r.check("template get deleted (100/33)", "GET", f"{V}/{tid}", TID, status=400, code=100)

    # -- errors -------------------------------------------------------------------------------
    r.check("send bad JSON (100)", "POST", f"{V}/{PHONE}/messages", M, status=400, code=100,
            raw=b"{not json", content_type="application/json")
    r.check("send without messaging_product (100)", "POST", f"{V}/{PHONE}/messages", M,
            status=400, code=100, body={"to": USER, "type": "text", "text": {"body": "x"}})
    r.check("send text without text (131008)", "POST", f"{V}/{PHONE}/messages", M,
            status=400, code=131008, body={"messaging_product": "whatsapp", "to": USER, "type": "text"})
    r.check("send bad token (190)", "POST", f"{V}/{PHONE}/messages", M, status=401, code=190,
            token="not-a-token", body=msg(USER, "text", {"body": "x"}))
    r.check("send no token (104)", "POST", f"{V}/{PHONE}/messages", M, status=400, code=104,
            token=None, body=msg(USER, "text", {"body": "x"}))
    # The OAS files 104 (no token) under 401 next to 190; Graph answers it with HTTP 400
    # (cloud-api.md 3.2), which the OAS documents for this operation with the same schema.
    r.check("phone number bad token (190)", "GET", f"{V}/{PHONE}", P, status=401, code=190,
            token="not-a-token")
    r.check("phone number no token (104)", "GET", f"{V}/{PHONE}", P, status=400, code=104,
            token=None)
    r.check("unknown WABA phone numbers (100/33)", "GET", f"{V}/999999/phone_numbers",
            "/{Version}/{WABA-ID}/phone_numbers", status=400, code=100)
    r.check("sync failure outside window (131047)", "POST", f"{V}/{SYNC_PHONE}/messages", M,
            status=400, code=131047, body=msg(STRANGER, "text", {"body": "hi"}))
    # The second number allows 1 message/s: the second of two quick sends is refused.
    r.admin(f"/_admin/phone_numbers/{SYNC_PHONE}/inbound", {"from": USER})
    for _ in range(3):
        if http(r.base, "POST", f"{V}/{SYNC_PHONE}/messages",
                body=msg(USER, "text", {"body": "x"})).status == 400:
            break
    r.check("throughput (130429)", "POST", f"{V}/{SYNC_PHONE}/messages", M, status=400,
            code=130429, body=msg(USER, "text", {"body": "x"}))
    r.check("media deleted", "DELETE", f"{V}/{media_id}", MEDIA)
    r.check("media URL after delete (100/33)", "GET", f"{V}/{media_id}", MEDIA, status=400,
            code=100)
    r.check("media delete again (100/33)", "DELETE", f"{V}/{media_id}", MEDIA, status=400,
            code=100)


# ---- golden JSON (crates/server/tests/golden/*.json) -----------------------------------------
# Response examples of the OAS, copied into files the Rust test crates/server/tests/golden.rs
# compares the server's responses with (same keys, same JSON types; values differ). This table
# says where each file's example comes from; the check below holds every file equal to the OAS
# (`--write-golden` rewrites them from it). `extra_keys`: keys the server may add at a place
# (`/messages/*` = each element of `messages`), each with why.

ERROR_DATA = {
    "keys": ["error_data"],
    "why": "Meta's error envelope carries error_data {messaging_product, details} (Meta's "
    "error-codes page, 'Example response'; cloud-api.md 3.1); no OAS example shows it",
}
GOLDEN = {
    "send_message.json": {
        "note": "The send response: free-form and template sends, any message type.",
        "sources": [("/{Version}/{Phone-Number-ID}/messages", "post", "200", "Send Text Message")],
        "extra_keys": {"/messages/*": {
            "keys": ["message_status"],
            "why": "template sends carry message_status (accepted): in the OAS response schema "
            "(MessageStatus enum) and Meta's template-pacing docs, in no OAS example"}},
    },
    "mark_read.json": {
        "note": "A read receipt (status: read, optionally typing_indicator) on the send path.",
        "sources": [("/{Version}/{Phone-Number-ID}/messages", "post", "200",
                     "Send typing indicator and read receipt")],
    },
    "media_upload.json": {
        "note": "The media upload response.",
        "sources": [("/{Version}/{Phone-Number-ID}/media", "post", "200", "Upload Image JSON")],
    },
    "media_url.json": {
        "note": "GET /{media-id}: the download URL and the file's facts (file_size a string).",
        "sources": [("/{Version}/{Media-ID}", "get", "200", "Retrieve Media URL")],
    },
    "template_create.json": {
        "note": "The template creation response.",
        "sources": [("/{Version}/{WABA-ID}/message_templates", "post", "200", "Example response")],
    },
    "phone_number.json": {
        "note": "GET /{phone-number-id} with the default fields.",
        "sources": [("/{Version}/{Phone-Number-ID}", "get", "200", "default_response")],
    },
    "success.json": {
        "note": "The {\"success\": true} answer; the same example in every operation listed.",
        "sources": [
            ("/{Version}/{WABA-ID}/message_templates", "delete", "200", "Example response"),
            ("/{Version}/{TEMPLATE_ID}", "post", "200", "Example response"),
            ("/{Version}/{Media-ID}", "delete", "200", "Delete Media"),
            ("/{Version}/{Phone-Number-ID}/register", "post", "200", "successful_registration"),
            ("/{Version}/{Phone-Number-ID}/deregister", "post", "200", "successful_deregistration"),
            ("/{Version}/{Phone-Number-ID}/whatsapp_business_profile", "post", "200",
             "profile_update_success"),
            ("/{Version}/{WABA-ID}/subscribed_apps", "post", "200", "basic_subscription_success"),
            ("/{Version}/{WABA-ID}/subscribed_apps", "delete", "200", "unsubscribe_success"),
        ],
    },
    "error_envelope.json": {
        "note": "The Graph error envelope (no subcode): message, type, code, fbtrace_id.",
        "sources": [("/{Version}/{WABA-ID}/phone_numbers", "get", "400", None)],
        "extra_keys": {"/error": ERROR_DATA},
    },
    "error_envelope_subcode.json": {
        "note": "The Graph error envelope with error_subcode (deregistering a number that is "
        "not registered: 100/2207051).",
        "sources": [("/{Version}/{Phone-Number-ID}/deregister", "post", "400", "phone_not_registered")],
        "extra_keys": {"/error": ERROR_DATA},
    },
}


def golden_example(oas, path, method, status, name):
    op = oas.operation(path, method)
    resp, _ = oas.follow(op["responses"][status], "")
    c = resp["content"]["application/json"]
    if name is None:
        return c["example"]
    return c["examples"][name]["value"]


def golden_file(oas, fname, spec):
    sources = []
    for path, method, status, name in spec["sources"]:
        op = oas.operation(path, method)
        src = {"path": path, "method": method, "operationId": op.get("operationId"),
               "status": status}
        src["example"] = name if name is not None else "(the response's single `example`)"
        sources.append(src)
    first = spec["sources"][0]
    out = {"_source": sources, "_note": spec["note"]}
    if spec.get("extra_keys"):
        out["_extra_keys"] = spec["extra_keys"]
    out["example"] = golden_example(oas, *first)
    return out


def golden_dir():
    return os.path.join(ROOT, "crates", "server", "tests", "golden")


def write_golden(oas):
    os.makedirs(golden_dir(), exist_ok=True)
    for fname, spec in GOLDEN.items():
        with open(os.path.join(golden_dir(), fname), "w", encoding="utf-8") as f:
            json.dump(golden_file(oas, fname, spec), f, indent=2, ensure_ascii=False)
            f.write("\n")
        print(f"wrote {os.path.join(golden_dir(), fname)}")


def check_golden(r):
    """Each golden file equals what the OAS says (so the Rust test tracks the OAS)."""
    for fname, spec in GOLDEN.items():
        label = f"golden {fname:<31} = OAS example"
        problems = []
        try:
            with open(os.path.join(golden_dir(), fname), encoding="utf-8") as f:
                have = json.load(f)
            want = golden_file(r.oas, fname, spec)
            if have != want:
                problems.append("differs from the OAS (tests/oas/validate.py --write-golden)")
            for path, method, status, name in spec["sources"][1:]:
                if golden_example(r.oas, path, method, status, name) != want["example"]:
                    problems.append(f"{method.upper()} {path} {status} {name}: a different example")
        except (OSError, ValueError, KeyError) as e:
            problems.append(f"{type(e).__name__}: {e}")
        r._line(not problems, label, "-", problems, [])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.environ.get("OPENWABA_BIN", "target/release/openwaba"))
    ap.add_argument("--oas", default=os.environ.get("OPENWABA_OAS", DEFAULT_OAS))
    ap.add_argument("-v", "--verbose", action="store_true", help="print every response body")
    ap.add_argument("--write-golden", action="store_true",
                    help="rewrite crates/server/tests/golden/*.json from the OAS, then exit")
    args = ap.parse_args()
    binary = args.bin if os.path.isabs(args.bin) else os.path.join(ROOT, args.bin)
    if not os.access(binary, os.X_OK):
        print(f"openwaba binary not found at {binary} (cargo build --release; --bin)")
        print("0 passed, 1 failed")
        return 1
    if not os.path.isfile(args.oas):
        print(f"OAS not found at {args.oas} (../shared beside the clone; --oas)")
        print("0 passed, 1 failed")
        return 1
    oas = Oas(args.oas)
    if args.write_golden:
        write_golden(oas)
        return 0
    try:
        server = Server(binary)
    except RuntimeError as e:
        print(e)
        print("0 passed, 1 failed")
        return 1
    try:
        print(f"openwaba: {server.base}; OAS: {os.path.normpath(args.oas)}")
        run = Run(oas, server.base, args.verbose)
        try:
            check_golden(run)
            run_checks(run)
        except Exception as e:  # noqa: BLE001 - a crash of the script is a failure too
            run.setup_fail("script", f"{type(e).__name__}: {e}")
        reasons = [(a.key, a.reason) for a in ALLOW]
        reasons += [(f"undocumented-errors {k}", v) for k, v in UNDOCUMENTED_ERRORS.items()]
        print("allow-list:")
        for key, why in reasons:
            used = key.removeprefix("undocumented-errors ") in run.used_allow
            print(f"  [{key}] {'used' if used else 'NOT NEEDED by any check'}: {why}")
        print(f"{run.passed} passed, {run.failed} failed")
        return 1 if run.failed else 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
