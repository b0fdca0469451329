// whatsapp-api-js 6.3.0 (npm) against openwaba serve, client code unmodified.
//
// Recipe used (cloud-api.md §8.1, whatsapp-api-js): every request goes through the
// `ponyfill.fetch` given to the constructor with a hard-coded https://graph.facebook.com
// URL, so pass a fetch that rewrites that origin to the local server and keeps the path:
//
//   const toLocal = (base) => (input, init) =>
//     fetch(String(input instanceof Request ? input.url : input)
//             .replace(/^https:\/\/graph\.facebook\.com/, base), init);
//   new WhatsAppAPI({ token, appSecret: "app-secret", webhookVerifyToken: "vt", v: "v24.0",
//                     ponyfill: { fetch: toLocal(BASE) } });
//
// whatsapp-api-js has no template-management API: the template is created with plain HTTP.
// It returns the response body as-is (no exceptions on Graph errors), so the error checks
// assert body.error.code.
//
// Exercised: sendMessage with Text (inside a window opened via the admin API), Template with
// BodyComponent/BodyParameter (after admin opt-in), Interactive(ActionButtons), markAsRead,
// error bodies 132001, 132000 and 130429 (second server with OPENWABA_THROUGHPUT_MPS=1).
import { WhatsAppAPI } from "whatsapp-api-js";
import { Text } from "whatsapp-api-js/messages/text";
import { Template, Language, BodyComponent, BodyParameter } from "whatsapp-api-js/messages/template";
import { Interactive, ActionButtons, Button, Body } from "whatsapp-api-js/messages/interactive";
import { BASE, BASE_THROTTLED, TOKEN, PHONE, Checks, assert, isWamid, openWindow, optIn, createTemplatePlain } from "./common.mjs";

const USER = "5511987653001";
const TEMPLATE = "wajs_order_shipped";

const toLocal = (base) => (input, init) =>
  fetch(String(input instanceof Request ? input.url : input).replace(/^https:\/\/graph\.facebook\.com/, base), init);
const client = (base) =>
  new WhatsAppAPI({ token: TOKEN, appSecret: "app-secret", webhookVerifyToken: "vt", v: "v24.0", ponyfill: { fetch: toLocal(base) } });

const wa = client(BASE);
const c = new Checks("whatsapp-api-js");
const state = {};

const sentId = (r) => {
  assert(!r.error, r);
  assert(r.messaging_product === "whatsapp" && r.contacts?.[0]?.wa_id, r);
  return isWamid(r.messages[0].id);
};
const template = (name, ...params) =>
  new Template(name, new Language("en_US"), new BodyComponent(...params.map((p) => new BodyParameter(p))));
const errorCode = (r, code) => {
  assert(r?.error?.code === code, r);
  return r.error;
};

await c.check("create_template_plain_http", () => createTemplatePlain(TEMPLATE, "wajs"));
await c.check("send_text_in_window", async () => {
  await openWindow(USER);
  return sentId(await wa.sendMessage(PHONE, USER, new Text("Hello from whatsapp-api-js")));
});
await c.check("send_template_with_params", async () => {
  await optIn(USER);
  return sentId(await wa.sendMessage(PHONE, USER, template(TEMPLATE, "Ana", "42")));
});
await c.check("send_reply_buttons", async () => {
  const msg = new Interactive(new ActionButtons(new Button("yes", "Yes"), new Button("no", "No")), new Body("Ship it?"));
  state.last = sentId(await wa.sendMessage(PHONE, USER, msg));
  return state.last;
});
await c.check("mark_as_read", async () => {
  const r = await wa.markAsRead(PHONE, state.last ?? "wamid.X");
  assert(r.success === true, r);
  return r;
});
await c.check("error_132001_unknown_template", async () =>
  errorCode(await wa.sendMessage(PHONE, USER, template("no_such_template", "x")), 132001));
await c.check("error_132000_param_count", async () =>
  errorCode(await wa.sendMessage(PHONE, USER, template(TEMPLATE, "only-one")), 132000));
await c.check("error_130429_throughput", async () => {
  const slow = client(BASE_THROTTLED);
  const results = [];
  for (let i = 0; i < 3; i++) results.push(await slow.sendMessage(PHONE, `55119876530${i}0`, new Text(`burst ${i}`)));
  const limited = results.filter((r) => r.error);
  assert(limited.length > 0, results);
  return errorCode(limited[0], 130429);
});
c.finish();
