// Benchmark baseline (`cargo xtask bench`): the counter app's HTTP API as a plain
// JavaScript Durable Object called over JS RPC, without a build step. Same routes and
// JSON as apps/counter.
import { DurableObject } from "cloudflare:workers";

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;

function json(status, body) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function error(status, code, message) {
  return json(status, { error: { code, message } });
}

// One counter per name: the value is loaded once per activation, kept in memory and
// written to storage before every reply that changed it. Its methods are called over RPC.
export class Counter extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.value = undefined;
    this.counts = { activations: 1, calls: 0, storage_reads: 0, storage_writes: 0 };
  }

  async load() {
    if (this.value === undefined) {
      this.counts.storage_reads++;
      this.value = (await this.ctx.storage.get("value")) ?? 0;
    }
    return this.value;
  }

  // The new value, or null when it would leave the safe integer range (nothing changes).
  async add(by) {
    this.counts.calls++;
    const value = (await this.load()) + by;
    if (!Number.isSafeInteger(value)) {
      return null;
    }
    this.counts.storage_writes++;
    await this.ctx.storage.put("value", value);
    this.value = value;
    return value;
  }

  async get() {
    this.counts.calls++;
    return this.load();
  }

  stats() {
    return this.counts;
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const segments = url.pathname.replace(/^\//, "").split("/");
    const method = request.method;
    if (segments[0] === "counters" && segments.length >= 2 && !NAME.test(segments[1])) {
      return error(400, "bad_request", "counter names are 1-128 characters of [A-Za-z0-9_.-]");
    }
    if (method === "POST" && segments.length === 3 && segments[0] === "counters" && segments[2] === "add") {
      let body;
      try {
        body = await request.json();
      } catch (e) {
        return error(400, "bad_request", `expected {"by": <integer>}: ${e}`);
      }
      const keys = body === null || typeof body !== "object" ? [] : Object.keys(body);
      if (keys.length !== 1 || keys[0] !== "by" || !Number.isSafeInteger(body.by)) {
        return error(400, "bad_request", 'expected {"by": <integer>}');
      }
      const value = await env.COUNTER.getByName(segments[1]).add(body.by);
      if (value === null) {
        return error(422, "user_error", "the counter would leave the safe integer range");
      }
      return json(200, { value });
    }
    if (method === "GET" && segments.length === 2 && segments[0] === "counters") {
      return json(200, { value: await env.COUNTER.getByName(segments[1]).get() });
    }
    if (
      method === "GET" && segments.length === 3 && segments[0] === "__test" &&
      segments[1] === "stats" && env.DURO_TEST_ROUTES === "1"
    ) {
      return json(200, await env.COUNTER.getByName(segments[2]).stats());
    }
    return error(404, "not_found", `no route for ${method} ${url.pathname}`);
  },
};
