// @great-detail/whatsapp 9.2.0 (npm, uses ky 2) against openwaba serve, client code unmodified.
//
// Recipe used (cloud-api.md §8.1, @great-detail/whatsapp): the documented `baseUrl` option;
// graphVersion needs a trailing "/" or ky drops the version segment from relative paths:
//
//   new Client({ baseUrl: BASE, graphVersion: "v23.0/",
//                request: { headers: { Authorization: `Bearer ${TOKEN}` } } });
//
// Exercised: template.create (the client's own template API), template.list,
// phoneNumbers.getPhoneNumber (with a nested `throughput{level}` field), message.createMessage
// (text inside a window opened via the admin API, template with body parameters after admin
// opt-in, interactive reply buttons), message.createStatus (mark as read). Errors come back as
// ky's HTTPError (non-2xx): the checks assert error.response.status and the Graph error body
// code for 132001 (404), 132000 (400) and 130429 (400, second server with
// OPENWABA_THROUGHPUT_MPS=1).
// Note: the package declares engines.node >= 22; CI runs node 20 (npm warns EBADENGINE).
import { Client } from "@great-detail/whatsapp";
import { BASE, BASE_THROTTLED, TOKEN, PHONE, WABA, Checks, assert, isWamid, openWindow, optIn, orderTemplate } from "./common.mjs";

const USER = "5511987654001";
const TEMPLATE = "great_detail_order_shipped";

const client = (base) =>
  new Client({ baseUrl: base, graphVersion: "v23.0/", request: { headers: { Authorization: `Bearer ${TOKEN}` } } });
const sdk = client(BASE);
const c = new Checks("@great-detail/whatsapp");
const state = {};

const sentId = (r) => {
  assert(r.messaging_product === "whatsapp" && r.contacts?.[0]?.wa_id, r);
  return isWamid(r.messages[0].id);
};
const templateMessage = (name, ...params) => ({
  phoneNumberID: PHONE, to: USER, type: "template",
  template: { name, language: { code: "en_US" }, components: [{ type: "body", parameters: params.map((text) => ({ type: "text", text })) }] },
});
async function expectGraphError(promise, status, code) {
  try {
    const r = await promise;
    throw new Error(`no error: ${JSON.stringify(r)}`);
  } catch (e) {
    if (e.name !== "HTTPError") throw e;
    const body = e.data ?? (await e.response.json());
    assert(e.response.status === status && body?.error?.code === code, { status: e.response.status, body });
    return { class: e.name, status: e.response.status, code: body.error.code, message: body.error.message };
  }
}

await c.check("template_create", async () => {
  const r = await sdk.template.create(WABA, orderTemplate(TEMPLATE, "great-detail")).json();
  assert(r.id && r.status === "APPROVED" && r.category === "UTILITY", r);
  return r;
});
await c.check("template_list", async () => {
  const r = await sdk.template.list(WABA, { status: "APPROVED", fields: ["name", "status"] }).json();
  assert(Array.isArray(r.data) && r.data.some((t) => t.name === TEMPLATE), r);
  return r.data.map((t) => t.name);
});
await c.check("phone_number_get_nested_fields", async () => {
  const r = await sdk.phoneNumbers.getPhoneNumber({ phoneNumberID: PHONE, fields: ["id", "display_phone_number", ["throughput", ["level"]]] }).json();
  assert(r.id === PHONE && r.throughput?.level, r);
  return r;
});
await c.check("send_text_in_window", async () => {
  await openWindow(USER);
  return sentId(await sdk.message.createMessage({ phoneNumberID: PHONE, to: USER, type: "text", text: { body: "Hello from great-detail" } }).json());
});
await c.check("send_template_with_params", async () => {
  await optIn(USER);
  return sentId(await sdk.message.createMessage(templateMessage(TEMPLATE, "Ana", "42")).json());
});
await c.check("send_reply_buttons", async () => {
  const r = await sdk.message.createMessage({
    phoneNumberID: PHONE, to: USER, type: "interactive",
    interactive: {
      type: "button", body: { text: "Ship it?" },
      action: { buttons: [{ type: "reply", reply: { id: "yes", title: "Yes" } }, { type: "reply", reply: { id: "no", title: "No" } }] },
    },
  }).json();
  state.last = sentId(r);
  return state.last;
});
await c.check("mark_as_read_createStatus", async () => {
  const r = await sdk.message.createStatus({ phoneNumberID: PHONE, message_id: state.last ?? "wamid.X", status: "read" }).json();
  assert(r.success === true, r);
  return r;
});
await c.check("error_132001_unknown_template", () =>
  expectGraphError(sdk.message.createMessage(templateMessage("no_such_template", "x")).json(), 404, 132001));
await c.check("error_132000_param_count", () =>
  expectGraphError(sdk.message.createMessage(templateMessage(TEMPLATE, "only-one")).json(), 400, 132000));
await c.check("error_130429_throughput", async () => {
  const slow = client(BASE_THROTTLED);
  const send = (i) => slow.message.createMessage({ phoneNumberID: PHONE, to: `55119876540${i}0`, type: "text", text: { body: `burst ${i}` } }).json();
  return expectGraphError((async () => { for (let i = 0; i < 3; i++) await send(i); })(), 400, 130429);
});
c.finish();
