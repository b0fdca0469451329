"""heyoo 0.1.2 (PyPI, sync `requests`) against openwaba serve, client code unmodified.

Recipe used (cloud-api.md §8.1, heyoo): the Graph base is hard-coded, so reassign the three
public attributes after construction (heyoo builds every URL from them at call time):

    h = WhatsApp(token=TOKEN, phone_number_id=PHONE)
    h.base_url = f"{BASE}/v14.0"
    h.v15_base_url = f"{BASE}/v15.0"          # used by mark_as_read
    h.url = f"{h.base_url}/{PHONE}/messages"

heyoo has no template-management API, so the template is created with plain HTTP
(POST /v14.0/{waba-id}/message_templates). Each client's template has its own wording:
openwaba (like Meta) rejects a template whose content duplicates another one. heyoo raises nothing on errors: it returns the
parsed JSON body, so the error checks assert body["error"]["code"].

Exercised: send_message (text, inside a window opened via the admin API), send_template
(components dict, after admin opt-in), send_reply_button (interactive button),
send_button (interactive list), mark_as_read (v15.0 path), error bodies 132001, 132000,
130429 (second server with OPENWABA_THROUGHPUT_MPS=1).
"""
from heyoo import WhatsApp

from common import BASE, BASE_THROTTLED, PHONE, TOKEN, WABA, Checks, http, is_wamid, open_window, opt_in

USER = "5511987652001"
TEMPLATE = "heyoo_order_shipped"


def client(base):
    h = WhatsApp(token=TOKEN, phone_number_id=PHONE)
    h.base_url = f"{base}/v14.0"
    h.v15_base_url = f"{base}/v15.0"
    h.url = f"{h.base_url}/{PHONE}/messages"
    return h


h = client(BASE)
c = Checks("heyoo")
state = {}


def body_params(*values):
    return [{"type": "body", "parameters": [{"type": "text", "text": v} for v in values]}]


def create_template():
    status, b = http("POST", f"{BASE}/v14.0/{WABA}/message_templates", {
        "name": TEMPLATE, "language": "en_US", "category": "UTILITY",
        "components": [
            {"type": "BODY", "text": "Hi {{1}}, your heyoo order {{2}} has shipped.",
             "example": {"body_text": [["Ana", "860198"]]}},
            {"type": "FOOTER", "text": "Shop"},
        ]})
    assert status == 200 and b.get("status") == "APPROVED", (status, b)
    return b


def sent_id(r):
    assert "error" not in r, r
    assert r["messaging_product"] == "whatsapp", r
    assert r["contacts"][0]["wa_id"], r
    return is_wamid(r["messages"][0]["id"])


def send_text():
    open_window(USER)
    return sent_id(h.send_message("Hello from heyoo", USER))


def send_template():
    opt_in(USER)
    return sent_id(h.send_template(TEMPLATE, USER, components=body_params("Ana", "42"), lang="en_US"))


def send_reply_buttons():
    r = h.send_reply_button(recipient_id=USER, button={
        "type": "button",
        "body": {"text": "Ship it?"},
        "action": {"buttons": [
            {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
            {"type": "reply", "reply": {"id": "no", "title": "No"}},
        ]},
    })
    state["last"] = sent_id(r)
    return state["last"]


def send_list():
    return sent_id(h.send_button(recipient_id=USER, button={
        "header": "Menu", "body": "Pick one", "footer": "Shop",
        "action": {"button": "Options", "sections": [
            {"title": "Orders", "rows": [{"id": "track", "title": "Track", "description": "Where is it"}]},
        ]},
    }))


def mark_read():
    r = h.mark_as_read(state.get("last", "wamid.X"))
    assert r == {"success": True}, r
    return r


def error_code(r, code):
    assert isinstance(r, dict) and r.get("error", {}).get("code") == code, r
    return r["error"]


def unknown_template():
    return error_code(h.send_template("no_such_template", USER, components=body_params("x")), 132001)


def param_mismatch():
    return error_code(h.send_template(TEMPLATE, USER, components=body_params("only-one")), 132000)


def throughput():
    slow = client(BASE_THROTTLED)
    results = [slow.send_message(f"burst {i}", f"55119876520{i:02}") for i in range(3)]
    limited = [r for r in results if "error" in r]
    assert limited, results
    return error_code(limited[0], 130429)


c.check("create_template_plain_http", create_template)
c.check("send_text_in_window", send_text)
c.check("send_template_with_params", send_template)
c.check("send_reply_buttons", send_reply_buttons)
c.check("send_list", send_list)
c.check("mark_as_read_v15", mark_read)
c.check("error_132001_unknown_template", unknown_template)
c.check("error_132000_param_count", param_mismatch)
c.check("error_130429_throughput", throughput)
c.finish()
