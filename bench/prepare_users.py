"""Prepares USERS simulated users for a load test: opt-in, an open service window (an
inbound message), and (optionally) automatic receipts after a delay.
usage: prepare_users.py PORT USERS [--receipts 200ms|manual]"""
import concurrent.futures, json, sys, urllib.request

port, users = sys.argv[1], int(sys.argv[2])
receipts = sys.argv[sys.argv.index("--receipts") + 1] if "--receipts" in sys.argv else None

def call(path, body, token="bench-admin"):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()

call("/v23.0/200000000000001/message_templates", {"name": "order_update", "language": "en_US",
     "category": "utility", "components": [{"type": "BODY", "text": "Hi {{1}}, order {{2}} has shipped.",
     "example": {"body_text": [["Ana", "860198"]]}}]}, token="bench-token")

def prepare(i):
    user = str(5511900000000 + i)
    call("/_admin/wabas/200000000000001/consent", {"wa_id": user, "event": "opt_in"})
    call("/_admin/phone_numbers/300000000000001/inbound", {"from": user})
    if receipts == "manual":
        call(f"/_sim/users/{user}", {"receipts": "manual"})
    elif receipts:
        call(f"/_sim/users/{user}", {"receipts": "auto", "delivered_after": receipts, "read_after": receipts})

with concurrent.futures.ThreadPoolExecutor(16) as ex:
    list(ex.map(prepare, range(users)))
