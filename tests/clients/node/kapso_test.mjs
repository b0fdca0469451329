// @kapso/whatsapp-cloud-api 0.3.0 (npm) against openwaba serve, client code unmodified.
//
// Recipe used (cloud-api.md §8.1, kapso): the documented constructor options
//
//   new WhatsAppClient({ accessToken: TOKEN, baseUrl: BASE, graphVersion: "v23.0" });
//
// (a base URL on a host ending in kapso.ai would switch on Kapso's proxy mode; 127.0.0.1
// does not.)
//
// Exercised: templates.create (the client's own template API), templates.list,
// messages.sendText (inside a window opened via the admin API), messages.sendTemplate with
// body parameters (after admin opt-in), messages.sendInteractiveButtons, messages.markRead, media (upload, sendImage by id, get,
// download, delete);
// Graph errors are thrown as kapso's GraphApiError: the checks assert its httpStatus, code,
// category and retry hint for 132001 (404), 132000 (400) and 130429 (400, second server with
// OPENWABA_THROUGHPUT_MPS=1, Retry-After header).
import { WhatsAppClient, GraphApiError } from "@kapso/whatsapp-cloud-api";
import { BASE, BASE_THROTTLED, TOKEN, PHONE, WABA, Checks, assert, isWamid, openWindow, optIn, orderTemplate } from "./common.mjs";

const USER = "5511987655001";
const TEMPLATE = "kapso_order_shipped";

const client = (base) => new WhatsAppClient({ accessToken: TOKEN, baseUrl: base, graphVersion: "v23.0" });
const wa = client(BASE);
const c = new Checks("@kapso/whatsapp-cloud-api");
const state = {};

const sentId = (r) => {
  assert(Array.isArray(r.contacts) && r.contacts.length === 1, r);
  return isWamid(r.messages[0].id);
};
const sendTemplate = (name, ...params) =>
  wa.messages.sendTemplate({
    phoneNumberId: PHONE, to: USER,
    template: { name, language: { code: "en_US" }, components: [{ type: "body", parameters: params.map((text) => ({ type: "text", text })) }] },
  });
async function expectGraphApiError(promise, { httpStatus, code, category }) {
  try {
    const r = await promise;
    throw new Error(`no error: ${JSON.stringify(r)}`);
  } catch (e) {
    if (!(e instanceof GraphApiError)) throw e;
    const got = { httpStatus: e.httpStatus, code: e.code, category: e.category, retry: e.retry, type: e.type, fbtraceId: e.fbtraceId, details: e.details };
    assert(e.httpStatus === httpStatus && e.code === code && e.category === category && e.fbtraceId, got);
    return got;
  }
}

await c.check("templates_create", async () => {
  const t = orderTemplate(TEMPLATE, "kapso");
  const r = await wa.templates.create({ businessAccountId: WABA, name: t.name, language: t.language, category: t.category, components: t.components });
  assert(r.id && r.status === "APPROVED" && r.category === "UTILITY", r);
  return r;
});
await c.check("templates_list", async () => {
  const r = await wa.templates.list({ businessAccountId: WABA, status: "APPROVED", limit: 50 });
  assert(Array.isArray(r.data) && r.data.some((t) => t.name === TEMPLATE), r);
  return r.data.map((t) => t.name);
});
await c.check("send_text_in_window", async () => {
  await openWindow(USER);
  return sentId(await wa.messages.sendText({ phoneNumberId: PHONE, to: USER, body: "Hello from kapso" }));
});
await c.check("send_template_with_params", async () => {
  await optIn(USER);
  return sentId(await sendTemplate(TEMPLATE, "Ana", "42"));
});
await c.check("send_reply_buttons", async () => {
  const r = await wa.messages.sendInteractiveButtons({
    phoneNumberId: PHONE, to: USER, bodyText: "Ship it?",
    buttons: [{ id: "yes", title: "Yes" }, { id: "no", title: "No" }],
  });
  state.last = sentId(r);
  return state.last;
});
await c.check("mark_read", async () => {
  const r = await wa.messages.markRead({ phoneNumberId: PHONE, messageId: state.last ?? "wamid.X" });
  assert(r.success === true, r);
  return r;
});
const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082", "hex");
await c.check("media_upload_send_get_download_delete", async () => {
  const up = await wa.media.upload({ phoneNumberId: PHONE, type: "image/png", file: new Blob([PNG], { type: "image/png" }), fileName: "dot.png" });
  assert(up.id, up);
  const sent = sentId(await wa.messages.sendImage({ phoneNumberId: PHONE, to: USER, image: { id: up.id, caption: "a dot" } }));
  const meta = await wa.media.get({ mediaId: up.id, phoneNumberId: PHONE });
  assert(meta.url && meta.mimeType === "image/png" && Number(meta.fileSize) === PNG.length, meta);
  const bytes = Buffer.from(await wa.media.download({ mediaId: up.id, phoneNumberId: PHONE }));
  assert(bytes.equals(PNG), bytes.subarray(0, 16).toString("hex"));
  const del = await wa.media.delete({ mediaId: up.id, phoneNumberId: PHONE });
  assert(del.success === true, del);
  return { mediaId: up.id, sent, meta };
});
await c.check("error_132001_unknown_template", () =>
  expectGraphApiError(sendTemplate("no_such_template", "x"), { httpStatus: 404, code: 132001, category: "template" }));
await c.check("error_132000_param_count", () =>
  expectGraphApiError(sendTemplate(TEMPLATE, "only-one"), { httpStatus: 400, code: 132000, category: "template" }));
await c.check("error_130429_throughput", async () => {
  const slow = client(BASE_THROTTLED);
  const got = await expectGraphApiError((async () => {
    for (let i = 0; i < 3; i++) await slow.messages.sendText({ phoneNumberId: PHONE, to: `55119876550${i}0`, body: `burst ${i}` });
  })(), { httpStatus: 400, code: 130429, category: "throttling" });
  assert(got.retry?.action === "retry_after" || got.retry?.action === "retry", got);
  return got;
});
c.finish();
