"""A webhook receiver built with pywa 4.5.0 (unmodified) on FastAPI, served by uvicorn.

Started by webhooks.py as a subprocess. Environment: WH_OUT (a file that gets one JSON line
per update a handler received), WH_PHONE_ID, WH_TOKEN, WH_VERIFY_TOKEN, WH_APP_SECRET.
Binds 127.0.0.1:0 itself and prints {"port": N} on stdout once it listens.

No callback_url is given, so pywa makes no registration calls: openwaba's GET handshake
and signed POSTs reach pywa's own routes at its default webhook_endpoint "/". pywa checks
X-Hub-Signature-256 against app_secret and drops updates for another phone_number_id.
Typed handlers (on_message, on_callback_button, on_message_status) record what pywa parsed;
on_raw_update records every verified update as received.
"""
import json
import os
import socket
import sys
import threading

import uvicorn
from fastapi import FastAPI
from pywa import WhatsApp, types

OUT = os.environ["WH_OUT"]
app = FastAPI()
wa = WhatsApp(
    phone_id=os.environ["WH_PHONE_ID"],
    token=os.environ["WH_TOKEN"],
    server=app,
    verify_token=os.environ["WH_VERIFY_TOKEN"],
    app_secret=os.environ["WH_APP_SECRET"],
)
lock = threading.Lock()


def record(kind, **fields):
    line = json.dumps({"kind": kind, **fields}, ensure_ascii=False, default=str)
    with lock, open(OUT, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def ref_id(m):
    r = getattr(m, "reply_to_message", None)
    return getattr(r, "message_id", None) if r else None


@wa.on_message
def on_message(_: WhatsApp, m: types.Message):
    ref = m.referral
    record("message", id=m.id, type=str(m.type), wa_id=m.from_user.wa_id, name=m.from_user.name,
           text=m.text, context=ref_id(m),
           referral=None if ref is None else {"source_id": ref.source_id, "source_type": str(ref.source_type),
                                              "headline": ref.headline})


@wa.on_callback_button
def on_button(_: WhatsApp, b: types.CallbackButton):
    record("button", id=b.id, type=str(b.type), wa_id=b.from_user.wa_id, data=b.data, title=b.title,
           context=ref_id(b))


@wa.on_message_status
def on_status(_: WhatsApp, s: types.MessageStatus):
    p = s.pricing
    record("status", id=s.id, status=str(s.status), wa_id=s.from_user.wa_id,
           error=None if s.error is None else s.error.code,
           pricing=None if p is None else {"type": None if p.type is None else str(p.type),
                                           "category": str(p.category), "model": str(p.model)})


@wa.on_raw_update
def on_raw(_: WhatsApp, u: types.RawUpdate):
    # Runs for every update that passed pywa's signature check, even when pywa could not
    # build a typed update from it (pywa calls raw handlers last, in a `finally`).
    record("raw", ascii=all(b < 128 for b in u.raw), update=dict(u))


if __name__ == "__main__":
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])
    sys.exit(0)
