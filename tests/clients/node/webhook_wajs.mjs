// A webhook receiver built with whatsapp-api-js 6.3.0 (unmodified) behind node:http.
// Started by tests/clients/webhooks.py. Environment: WH_OUT (a file that gets one JSON line
// per event: handshakes, handler calls, rejected POSTs), WH_TOKEN, WH_APP_SECRET,
// WH_VERIFY_TOKEN. Listens on 127.0.0.1:0 and prints {"port": N} once it listens.
//
// GET  -> wa.get(params): the challenge, or the error's httpStatus (403 on a wrong token).
// POST -> await wa.post(JSON.parse(raw), raw, x-hub-signature-256): 200, or the thrown
//         error's httpStatus (401 when the signature does not match the app secret); a
//         verified update of a field wajs 6.3.0 cannot parse is acknowledged ("unparsed").
import http from "node:http";
import fs from "node:fs";
import { WhatsAppAPI } from "whatsapp-api-js";

const OUT = process.env.WH_OUT;
const record = (kind, fields) => fs.appendFileSync(OUT, JSON.stringify({ kind, ...fields }) + "\n");

const wa = new WhatsAppAPI({
  token: process.env.WH_TOKEN,
  appSecret: process.env.WH_APP_SECRET,
  webhookVerifyToken: process.env.WH_VERIFY_TOKEN,
  v: "v24.0",
  ponyfill: { fetch },
});

wa.on.message = ({ phoneID, from, name, message }) => {
  record("message", {
    phone_id: phoneID, id: message.id, type: message.type, wa_id: from, name,
    text: message.text?.body ?? null,
    context: message.context?.id ?? null,
    button_reply: message.interactive?.button_reply ?? null,
    referral: message.referral ?? null,
  });
};

wa.on.status = ({ phoneID, phone, status, id, pricing, error, conversation }) => {
  record("status", {
    phone_id: phoneID, id, status, wa_id: phone,
    error: error?.code ?? null, pricing: pricing ?? null, conversation: conversation ?? null,
  });
};

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    const url = new URL(req.url, "http://localhost");
    let status = 200, body = "";
    try {
      if (req.method === "GET") {
        body = String(wa.get(Object.fromEntries(url.searchParams)));
        record("handshake", { ok: true });
      } else if (req.method === "POST") {
        const raw = Buffer.concat(chunks).toString("utf8");
        const data = JSON.parse(raw);
        try {
          await wa.post(data, raw, req.headers["x-hub-signature-256"]);
        } catch (e) {
          // wa.post checks the signature first (WhatsAppAPIError, with httpStatus). 6.3.0 then
          // reads value.metadata.phone_number_id for every field, so it throws a TypeError on
          // fields without metadata (message_template_status_update, ...). Such an update was
          // verified: the app acknowledges it, as an app subscribed to it would.
          const field = data?.entry?.[0]?.changes?.[0]?.field;
          if (e?.httpStatus !== undefined || field === "messages") throw e;
          record("unparsed", { field, error: String(e?.message ?? e) });
        }
      } else {
        status = 405;
      }
    } catch (e) {
      status = Number.isInteger(e?.httpStatus) ? e.httpStatus : 500;
      body = String(e?.message ?? e);
      record(req.method === "GET" ? "handshake" : "rejected", { ok: false, status, error: body });
    }
    res.writeHead(status, { "Content-Type": "text/plain" });
    res.end(body);
  });
});

server.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
