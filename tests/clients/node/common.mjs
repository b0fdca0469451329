// Shared helpers for the Node client tests: environment, openwaba's admin API (plain
// fetch, never the client under test) and a tiny check recorder. run.sh exports
// OPENWABA_BASE, OPENWABA_BASE_THROTTLED (a second server with OPENWABA_THROUGHPUT_MPS=1),
// OPENWABA_ACCESS_TOKEN, OPENWABA_ADMIN_TOKEN, OPENWABA_WABA_ID, OPENWABA_PHONE_NUMBER_ID.
export const BASE = process.env.OPENWABA_BASE;
export const BASE_THROTTLED = process.env.OPENWABA_BASE_THROTTLED;
export const TOKEN = process.env.OPENWABA_ACCESS_TOKEN;
export const ADMIN = process.env.OPENWABA_ADMIN_TOKEN;
export const WABA = process.env.OPENWABA_WABA_ID;
export const PHONE = process.env.OPENWABA_PHONE_NUMBER_ID;

export async function http(method, url, body, token = TOKEN) {
  const r = await globalThis.fetch(url, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

export async function admin(path, body, base = BASE) {
  const r = await http("POST", base + path, body, ADMIN);
  if (r.status !== 200) throw new Error(`admin ${path} -> ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

// The customer writes first: opens the 24 h customer service window.
export const openWindow = (user, base = BASE) => admin(`/_admin/phone_numbers/${PHONE}/inbound`, { from: user }, base);
export const optIn = (user, base = BASE) => admin(`/_admin/wabas/${WABA}/consent`, { wa_id: user, event: "opt_in" }, base);

// A template with the client's own wording: openwaba (like Meta) rejects duplicate content.
export function orderTemplate(name, word) {
  return {
    name, language: "en_US", category: "UTILITY",
    components: [
      { type: "BODY", text: `Hi {{1}}, your ${word} order {{2}} has shipped.`, example: { body_text: [["Ana", "860198"]] } },
      { type: "FOOTER", text: "Shop" },
    ],
  };
}

export async function createTemplatePlain(name, word) {
  const r = await http("POST", `${BASE}/v23.0/${WABA}/message_templates`, orderTemplate(name, word));
  assert(r.status === 200 && r.body.status === "APPROVED", r);
  return r.body;
}

export function assert(cond, detail) {
  if (!cond) throw new Error(`assertion failed: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
}

export function isWamid(x) {
  assert(typeof x === "string" && x.startsWith("wamid."), `not a wamid: ${JSON.stringify(x)}`);
  return x;
}

export class Checks {
  constructor(client) { this.client = client; this.passed = 0; this.failed = 0; }
  async check(name, fn) {
    try {
      const detail = await fn();
      this.passed++;
      console.log(JSON.stringify({ client: this.client, check: name, ok: true, detail }));
    } catch (e) {
      this.failed++;
      console.log(JSON.stringify({ client: this.client, check: name, ok: false, error: String(e?.stack ?? e) }));
    }
  }
  // A check failing today because of a known openwaba incompatibility (reported, not fixed
  // here): its failure does not fail the run; once it passes it counts.
  async knownIssue(name, fn, note) {
    try {
      const detail = await fn();
      this.passed++;
      console.log(JSON.stringify({ client: this.client, check: name, ok: true, detail }));
    } catch (e) {
      console.log(JSON.stringify({ client: this.client, check: name, ok: false, known_issue: note, error: String(e?.stack ?? e) }));
    }
  }
  finish() {
    console.log(`${this.passed} passed, ${this.failed} failed`);
    process.exit(this.failed ? 1 : 0);
  }
}
