// Benchmark baseline (`cargo xtask bench`): the scale scenarios' HTTP API (a log of
// entries and a leaderboard) as plain JavaScript Durable Objects called over JS RPC,
// without a build step. Same routes and JSON as bench/scale.
import { DurableObject } from "cloudflare:workers";

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const DIGITS = /^[0-9]{1,15}$/;
/// Entries per fill and per range read at most.
const MAX_BATCH = 1000;
/// The highest score.
const MAX_SCORE = 2 ** 31;
/// Players in a leaderboard's reply.
const TOP = 10;

function json(status, body) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function error(status, code, message) {
  return json(status, { error: { code, message } });
}

function badRequest(message) {
  return error(400, "bad_request", message);
}

function counts() {
  return { activations: 1, calls: 0, storage_reads: 0, storage_writes: 0, storage_lists: 0 };
}

// An entry's key: ids zero-padded, so that the keys sort as the ids do.
function entryKey(id) {
  return "e:" + String(id).padStart(20, "0");
}

// One log per name: entries with consecutive ids from 1, each under its own key; the
// next id under a key of its own, loaded once per activation.
export class Journal extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.next = undefined;
    this.counts = counts();
  }

  async nextId() {
    if (this.next === undefined) {
      this.counts.storage_reads++;
      const next = (await this.ctx.storage.get("next")) ?? 1;
      // Another call may have loaded it meanwhile.
      this.next ??= next;
    }
    return this.next;
  }

  // Writes `texts` as the next entries, and the next id, before the reply.
  async write(texts) {
    await this.nextId();
    const first = this.next;
    this.next += texts.length;
    texts.forEach((text, i) => this.ctx.storage.put(entryKey(first + i), text));
    this.counts.storage_writes += texts.length + 1;
    await this.ctx.storage.put("next", this.next);
    return first;
  }

  async append(text) {
    this.counts.calls++;
    return { id: await this.write([text]) };
  }

  // Every text or none: an empty one refuses the batch before anything is written.
  async appendBatch(texts) {
    this.counts.calls++;
    const empty = texts.findIndex((text) => text === "");
    if (empty >= 0) {
      return { error: `text ${empty} of the batch is empty; nothing was appended` };
    }
    await this.write(texts);
    return { len: this.next - 1 };
  }

  async fill(count) {
    this.counts.calls++;
    const first = await this.nextId();
    const texts = Array.from({ length: count }, (_, i) => `entry ${first + i}`);
    await this.write(texts);
    return { len: this.next - 1 };
  }

  async summary() {
    this.counts.calls++;
    const len = (await this.nextId()) - 1;
    return { len, last_id: len };
  }

  async range(after, limit) {
    this.counts.calls++;
    this.counts.storage_lists++;
    const listed = await this.ctx.storage.list({ start: entryKey(after + 1), end: "e;", limit });
    const entries = [];
    for (const [key, text] of listed) {
      entries.push({ id: Number(key.slice(2)), text });
    }
    return { entries };
  }

  stats() {
    return this.counts;
  }
}

// (score desc, player asc).
function byRank(a, b) {
  return b.score - a.score || (a.player < b.player ? -1 : a.player > b.player ? 1 : 0);
}

// One leaderboard per name: every player's score in memory, loaded once per activation
// with one `list`, each player under a key of its own. Every update sorts all players.
export class Board extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.scores = undefined;
    this.counts = counts();
  }

  async load() {
    if (this.scores === undefined) {
      this.counts.storage_lists++;
      const listed = await this.ctx.storage.list({ prefix: "s:" });
      if (this.scores === undefined) {
        this.scores = new Map();
        for (const [key, score] of listed) {
          this.scores.set(key.slice(2), score);
        }
      }
    }
    return this.scores;
  }

  async score(player, score) {
    this.counts.calls++;
    const scores = await this.load();
    scores.set(player, score);
    this.counts.storage_writes++;
    await this.ctx.storage.put("s:" + player, score);
    const all = Array.from(scores, ([player, score]) => ({ player, score }));
    all.sort(byRank);
    const rank = all.findIndex((entry) => entry.player === player) + 1;
    return { rank, top: all.slice(0, TOP) };
  }

  // Players p<k> for k = players .. players + count, with scores spread by a
  // multiplicative hash of k (exact: BigInt, as u64 arithmetic).
  async fill(count, seed) {
    this.counts.calls++;
    const scores = await this.load();
    const first = scores.size;
    for (let k = first; k < first + count; k++) {
      const score = Number((BigInt(k) * 2654435761n + BigInt(seed)) % 1000000n);
      scores.set(`p${k}`, score);
      this.ctx.storage.put(`s:p${k}`, score);
    }
    this.counts.storage_writes += count;
    // Writes made without an await in between are committed together; wait for them.
    await this.ctx.storage.sync();
    return { players: scores.size };
  }

  stats() {
    return this.counts;
  }
}

// The request's JSON body if it is an object with no fields but `fields`, or undefined.
async function body(request, fields) {
  let value;
  try {
    value = await request.json();
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return undefined;
  }
  return Object.keys(value).every((key) => fields.includes(key)) ? value : undefined;
}

function isCount(value) {
  return Number.isInteger(value) && value >= 1 && value <= MAX_BATCH;
}

// A non-negative integer query parameter, `fallback` when absent, undefined when malformed.
function queryNumber(url, name, fallback) {
  const text = url.searchParams.get(name);
  if (text === null) {
    return fallback;
  }
  return DIGITS.test(text) ? Number(text) : undefined;
}

// An object's reply: its `error` as a 422, anything else as it is.
function reply(result) {
  if (result.error !== undefined) {
    return error(422, "user", result.error);
  }
  return json(200, result);
}

async function log(request, url, stub, action) {
  const method = request.method;
  if (method === "GET" && action === undefined) {
    return json(200, await stub.summary());
  }
  if (method === "GET" && action === "range") {
    const after = queryNumber(url, "after", 0);
    const limit = queryNumber(url, "limit", 100);
    const known = [...url.searchParams.keys()].every((key) => key === "after" || key === "limit");
    if (!known || after === undefined || limit === undefined || limit < 1 || limit > MAX_BATCH) {
      return badRequest(`expected ?after=<id>&limit=<1..=${MAX_BATCH}>`);
    }
    return json(200, await stub.range(after, limit));
  }
  if (method !== "POST") {
    return undefined;
  }
  if (action === "append") {
    const args = await body(request, ["text"]);
    if (typeof args?.text !== "string") {
      return badRequest('expected {"text": <string>}');
    }
    return reply(await stub.append(args.text));
  }
  if (action === "append-batch") {
    const args = await body(request, ["texts"]);
    const texts = args?.texts;
    if (!Array.isArray(texts) || !texts.every((text) => typeof text === "string")) {
      return badRequest('expected {"texts": [<string>, ...]}');
    }
    return reply(await stub.appendBatch(texts));
  }
  if (action === "fill") {
    const args = await body(request, ["count"]);
    if (!isCount(args?.count)) {
      return badRequest(`expected {"count": <1..=${MAX_BATCH}>}`);
    }
    return reply(await stub.fill(args.count));
  }
  return undefined;
}

async function board(request, stub, action) {
  if (request.method !== "POST") {
    return undefined;
  }
  if (action === "score") {
    const args = await body(request, ["player", "score"]);
    const score = args?.score;
    if (
      typeof args?.player !== "string" || args.player === "" ||
      !Number.isInteger(score) || score < 0 || score > MAX_SCORE
    ) {
      return badRequest(`expected {"player": <string>, "score": <0..=${MAX_SCORE}>}`);
    }
    return reply(await stub.score(args.player, score));
  }
  if (action === "fill") {
    const args = await body(request, ["count", "seed"]);
    const seed = args?.seed ?? 0;
    if (!isCount(args?.count) || !Number.isSafeInteger(seed) || seed < 0) {
      return badRequest(`expected {"count": <1..=${MAX_BATCH}>, "seed": <integer ≥ 0>}`);
    }
    return reply(await stub.fill(args.count, seed));
  }
  return undefined;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const segments = url.pathname.replace(/^\//, "").split("/");
    const notFound = () => error(404, "not_found", `no route for ${request.method} ${url.pathname}`);
    let [kind, name, action] = segments;
    if (kind === "__test" && name === "stats" && env.DURO_TEST_ROUTES === "1") {
      // GET /__test/stats/<log|board>/<name>
      if (request.method !== "GET" || segments.length !== 4) {
        return notFound();
      }
      [kind, name, action] = [segments[2], segments[3], "stats"];
    } else if (segments.length > 3 || (kind !== "log" && kind !== "board")) {
      return notFound();
    }
    const namespace = kind === "log" ? env.JOURNAL : kind === "board" ? env.BOARD : undefined;
    if (namespace === undefined || name === undefined) {
      return notFound();
    }
    if (!NAME.test(name)) {
      return badRequest("names are 1-128 characters of [A-Za-z0-9_.-]");
    }
    const stub = namespace.getByName(name);
    if (action === "stats") {
      return json(200, await stub.stats());
    }
    const response = kind === "log"
      ? await log(request, url, stub, action)
      : await board(request, stub, action);
    return response ?? notFound();
  },
};
