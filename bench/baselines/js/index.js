// Benchmark baseline (`cargo xtask bench`): the counter app's HTTP API as a plain
// JavaScript Durable Object, without a build step. Same routes and JSON as apps/counter.
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
// written to storage before every reply that changed it.
export class Counter extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.value = undefined;
    this.stats = { activations: 1, calls: 0, storage_reads: 0, storage_writes: 0 };
  }

  async load() {
    if (this.value === undefined) {
      this.stats.storage_reads++;
      this.value = (await this.ctx.storage.get("value")) ?? 0;
    }
    return this.value;
  }

  async fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === "/add") {
      this.stats.calls++;
      const { by } = await request.json();
      const value = (await this.load()) + by;
      if (!Number.isSafeInteger(value)) {
        return error(422, "user_error", "the counter would leave the safe integer range");
      }
      this.stats.storage_writes++;
      await this.ctx.storage.put("value", value);
      this.value = value;
      return json(200, { value });
    }
    if (path === "/get") {
      this.stats.calls++;
      return json(200, { value: await this.load() });
    }
    if (path === "/stats") {
      return json(200, this.stats);
    }
    return error(404, "not_found", "no such object route");
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const segments = url.pathname.replace(/^\//, "").split("/");
    const method = request.method;
    let name;
    let forward;
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
      name = segments[1];
      forward = new Request("https://counter/add", {
        method: "POST",
        body: JSON.stringify({ by: body.by }),
      });
    } else if (method === "GET" && segments.length === 2 && segments[0] === "counters") {
      name = segments[1];
      forward = new Request("https://counter/get");
    } else if (
      method === "GET" && segments.length === 3 && segments[0] === "__test" &&
      segments[1] === "stats" && env.DURO_TEST_ROUTES === "1"
    ) {
      name = segments[2];
      forward = new Request("https://counter/stats");
    } else {
      return error(404, "not_found", `no route for ${method} ${url.pathname}`);
    }
    return env.COUNTER.getByName(name).fetch(forward);
  },
};
