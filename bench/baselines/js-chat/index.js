// The chat API of apps/chat (issue "Real-time objects") as a hand-written JavaScript
// worker and Durable Objects, without a build step: the reference the contract tests in
// tests/tests/chat run against, and the JavaScript baseline of the broadcast benchmark.
// README.md lists the API and the contract notes.
import { DurableObject } from "cloudflare:workers";

const NAME = /^[A-Za-z0-9_.-]+$/;
const MAX_ROOM = 64;
const MAX_USER = 32;
const MAX_CLIENT_ID = 64;
const MAX_TEXT = 2000;
/// Request bodies and socket frames, in bytes.
const MAX_BODY = 65536;
/// How much of a body over MAX_BODY is read (and dropped) before the 413.
const MAX_DRAIN = 16 * 1024 * 1024;
/// Unicode category Cc, except "\n".
const CONTROL = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F]/;
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 500;
/// How often, at most, a room tells the directory about itself.
const DIRECTORY_DELAY_MS = 1000;
/// Storage list page when replaying history to a socket.
const PAGE = 1000;
const U64_MAX = 18446744073709551615n;

const PAGE_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>chat</title></head>
<body><h1>chat</h1><p>The JavaScript chat baseline. The API is under <code>/api/rooms</code>.</p></body>
</html>
`;

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const badRequest = (message) => new HttpError(400, "bad_request", message);

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function errorResponse(e) {
  const headers = e.status === 426 ? { upgrade: "websocket" } : {};
  return json(e.status, { error: { code: e.code, message: e.message } }, headers);
}

function isName(value, max) {
  return typeof value === "string" && value.length >= 1 && value.length <= max && NAME.test(value);
}

function checkUser(user) {
  if (!isName(user, MAX_USER)) {
    throw badRequest("user must be 1-32 characters of [A-Za-z0-9_.-]");
  }
  return user;
}

// `undefined` when absent (a JSON null is absent too).
function checkClientId(clientId) {
  if (clientId === undefined || clientId === null) {
    return undefined;
  }
  if (!isName(clientId, MAX_CLIENT_ID)) {
    throw badRequest("client_id must be 1-64 characters of [A-Za-z0-9_.-]");
  }
  return clientId;
}

function checkText(text) {
  if (typeof text !== "string") {
    throw badRequest("text must be a string");
  }
  if (!text.isWellFormed()) {
    throw badRequest("text holds a lone surrogate");
  }
  if (CONTROL.test(text)) {
    throw badRequest("text holds a control character (only \\n is allowed)");
  }
  let scalars = 0;
  for (const _ of text) {
    if (++scalars > MAX_TEXT) {
      break;
    }
  }
  if (scalars < 1 || scalars > MAX_TEXT) {
    throw badRequest("text must be 1-2000 Unicode scalar values");
  }
  return text;
}

// A query parameter that must be a plain non-negative integer: `fallback` when absent,
// clamped to the safe integer range (ids never get there).
function uintParam(params, name, fallback) {
  const raw = params.get(name);
  if (raw === null) {
    return fallback;
  }
  if (!/^[0-9]+$/.test(raw) || BigInt(raw) > U64_MAX) {
    throw badRequest(`${name} must be a plain non-negative integer`);
  }
  return Math.min(Number(raw), Number.MAX_SAFE_INTEGER);
}

function limitParam(params) {
  const limit = uintParam(params, "limit", DEFAULT_LIMIT);
  if (limit < 1 || limit > MAX_LIMIT) {
    throw badRequest("limit must be 1-500");
  }
  return limit;
}

// The body as JSON, refusing more than MAX_BODY bytes whether announced by Content-Length
// or not (chunked). The Content-Type is not looked at.
async function readJson(request) {
  const length = request.headers.get("content-length");
  if (length !== null && Number(length) > MAX_BODY) {
    throw new HttpError(413, "payload_too_large", "the body is over 65536 bytes");
  }
  const chunks = [];
  let total = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      total += value.byteLength;
      if (total <= MAX_BODY) {
        chunks.push(value);
      } else if (total > MAX_DRAIN) {
        await reader.cancel();
        break;
      }
    }
  }
  if (total > MAX_BODY) {
    // Read to the end (up to MAX_DRAIN) before answering: a proxy in front (wrangler
    // dev's) fails the request with a 503 when the answer comes while it still sends.
    throw new HttpError(413, "payload_too_large", "the body is over 65536 bytes");
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw badRequest("the body is not UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`the body is not JSON: ${e.message}`);
  }
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

const messageKey = (id) => `m:${String(id).padStart(16, "0")}`;

// A stored message as a socket frame.
const messageFrame = (m) => JSON.stringify({ type: "message", ...m });

// One room: every message is its own storage key (`m:<id>`, ids consecutive from 1),
// written once and never rewritten. Sockets use the hibernation API; each carries its
// user (and the room's name) as its attachment.
export class Room extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.name = null;
    this.lastId = 0;
    this.lastAtMs = 0;
    this.alarmAt = null;
    // Sockets whose leaving was already announced in this activation.
    this.gone = new WeakSet();
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    ctx.blockConcurrencyWhile(async () => {
      const last = await ctx.storage.list({ prefix: "m:", reverse: true, limit: 1 });
      for (const m of last.values()) {
        this.lastId = m.id;
        this.lastAtMs = m.at_ms;
      }
      this.name = (await ctx.storage.get("name")) ?? null;
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  // Distinct users of the open sockets, sorted; `except` is leaving.
  members(except) {
    const users = new Set();
    for (const ws of this.ctx.getWebSockets()) {
      if (ws === except || this.gone.has(ws) || ws.readyState !== WebSocket.OPEN) {
        continue;
      }
      const attachment = ws.deserializeAttachment();
      if (attachment) {
        users.add(attachment.user);
      }
    }
    return [...users].sort();
  }

  broadcast(frame, except) {
    for (const ws of this.ctx.getWebSockets()) {
      if (ws === except || this.gone.has(ws)) {
        continue;
      }
      try {
        ws.send(frame);
      } catch {
        // Closing or closed: its close or error handler announces it.
      }
    }
  }

  // The directory hears about the room at most about once a second, from an alarm (which
  // survives a restart).
  schedule() {
    if (this.lastId === 0 || this.alarmAt !== null) {
      return;
    }
    this.alarmAt = Date.now() + DIRECTORY_DELAY_MS;
    this.ctx.storage.setAlarm(this.alarmAt);
  }

  async alarm() {
    this.alarmAt = null;
    if (this.name !== null && this.lastId > 0) {
      await this.env.DIRECTORY.getByName("directory").update(this.name, {
        members: this.members().length,
        messages: this.lastId,
        last_at_ms: this.lastAtMs,
      });
    }
  }

  leave(ws) {
    if (this.gone.has(ws)) {
      return;
    }
    this.gone.add(ws);
    this.broadcast(JSON.stringify({ type: "presence", members: this.members(ws) }), ws);
    this.schedule();
  }

  append(user, text, clientId) {
    const id = this.lastId + 1;
    const m = { id, user, text, at_ms: Date.now() };
    if (clientId !== undefined) {
      m.client_id = clientId;
    }
    // Not awaited: the output gate holds the reply and every frame until it is durable.
    this.ctx.storage.put(messageKey(id), m);
    if (id === 1) {
      this.ctx.storage.put("name", this.name);
    }
    this.lastId = id;
    this.lastAtMs = m.at_ms;
    this.broadcast(messageFrame(m));
    this.schedule();
    return m;
  }

  info(name) {
    this.name ??= name;
    const members = this.members();
    return { name, members, messages: this.lastId, last_id: this.lastId };
  }

  async history(name, after, limit) {
    this.name ??= name;
    if (after >= this.lastId) {
      return { messages: [] };
    }
    const page = await this.ctx.storage.list({ prefix: "m:", start: messageKey(after + 1), limit });
    const messages = [];
    for (const { id, user, text, at_ms } of page.values()) {
      messages.push({ id, user, text, at_ms });
    }
    return { messages };
  }

  post(name, user, text, clientId) {
    this.name ??= name;
    const m = this.append(user, text, clientId);
    return { id: m.id, at_ms: m.at_ms };
  }

  // The ws route, already validated by the worker: `user` and `after` in the query.
  async fetch(request) {
    const url = new URL(request.url);
    const room = url.pathname.split("/")[3];
    const user = url.searchParams.get("user");
    this.name ??= room;
    const after = uintParam(url.searchParams, "after", this.lastId);
    // Read the replay before accepting the socket, so that no live message can come
    // before it; messages appended meanwhile are read too.
    const replay = [];
    let from = after;
    while (from < this.lastId) {
      const page = await this.ctx.storage.list({ prefix: "m:", start: messageKey(from + 1), limit: PAGE });
      if (page.size === 0) {
        break;
      }
      for (const m of page.values()) {
        replay.push(m);
        from = m.id;
      }
    }
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ user, room });
    server.send(
      JSON.stringify({ type: "welcome", room, you: user, members: this.members(), last_id: this.lastId }),
    );
    for (const m of replay) {
      server.send(messageFrame(m));
    }
    this.broadcast(JSON.stringify({ type: "presence", members: this.members() }), server);
    this.schedule();
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws, data) {
    const { user, room } = ws.deserializeAttachment();
    this.name ??= room;
    try {
      if (typeof data !== "string") {
        throw badRequest("frames are JSON text");
      }
      if (data.length > MAX_BODY / 3 && new TextEncoder().encode(data).byteLength > MAX_BODY) {
        throw new HttpError(413, "payload_too_large", "the frame is over 65536 bytes");
      }
      let frame;
      try {
        frame = JSON.parse(data);
      } catch (e) {
        throw badRequest(`the frame is not JSON: ${e.message}`);
      }
      if (!isObject(frame) || frame.type !== "send") {
        throw badRequest('expected {"type":"send","text":T,"client_id":C?}');
      }
      const text = checkText(frame.text);
      const clientId = checkClientId(frame.client_id);
      this.append(user, text, clientId);
    } catch (e) {
      if (!(e instanceof HttpError)) {
        throw e;
      }
      ws.send(JSON.stringify({ type: "error", code: e.code, message: e.message }));
    }
  }

  async webSocketClose(ws, code, reason) {
    try {
      // 1005 and 1006 are reserved: they may not be sent.
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
    this.leave(ws);
  }

  async webSocketError(ws) {
    this.leave(ws);
  }
}

// The room directory: one object, one key per room that has messages, updated by each
// room at most about once a second.
export class Directory extends DurableObject {
  async update(name, summary) {
    await this.ctx.storage.put(`room:${name}`, { name, ...summary });
  }

  async list(prefix, cursor, limit) {
    const options = { prefix: `room:${prefix}`, limit: limit + 1 };
    if (cursor !== null) {
      options.startAfter = `room:${cursor}`;
    }
    const rooms = [...(await this.ctx.storage.list(options)).values()];
    const more = rooms.length > limit;
    rooms.length = Math.min(rooms.length, limit);
    return { rooms, cursor: more ? rooms[rooms.length - 1].name : null };
  }
}

async function route(request, env) {
  const url = new URL(request.url);
  const method = request.method;
  const path = url.pathname;
  const params = url.searchParams;
  const notFound = new HttpError(404, "not_found", `no route for ${method} ${path}`);
  if (path === "/") {
    if (method !== "GET") {
      throw notFound;
    }
    return new Response(PAGE_HTML, { headers: { "content-type": "text/html; charset=utf-8" } });
  }
  // The raw path: percent-escapes are not decoded, so `a%2Db` is not a room name.
  const segments = path.split("/");
  if (segments[1] !== "api" || segments[2] !== "rooms" || segments.length > 5 || segments.slice(1).includes("")) {
    throw notFound;
  }
  if (segments.length === 3) {
    if (method !== "GET") {
      throw notFound;
    }
    const prefix = params.get("prefix") ?? "";
    if (prefix !== "" && !isName(prefix, MAX_ROOM)) {
      throw badRequest("prefix must be 0-64 characters of [A-Za-z0-9_.-]");
    }
    let cursor = params.get("cursor");
    if (cursor === "") {
      cursor = null;
    }
    if (cursor !== null && !isName(cursor, MAX_ROOM)) {
      throw badRequest("cursor is not one this API returned");
    }
    const limit = limitParam(params);
    return json(200, await env.DIRECTORY.getByName("directory").list(prefix, cursor, limit));
  }
  const action = segments[4] ?? "";
  const routes = { "": ["GET"], messages: ["GET", "POST"], ws: ["GET"] };
  if (!Object.hasOwn(routes, action) || !routes[action].includes(method)) {
    throw notFound;
  }
  const name = segments[3];
  if (!isName(name, MAX_ROOM)) {
    throw badRequest("room names are 1-64 characters of [A-Za-z0-9_.-]");
  }
  const room = env.ROOM.getByName(name);
  if (action === "") {
    return json(200, await room.info(name));
  }
  if (action === "messages" && method === "GET") {
    const after = uintParam(params, "after", 0);
    const limit = limitParam(params);
    return json(200, await room.history(name, after, limit));
  }
  if (action === "messages") {
    const body = await readJson(request);
    if (!isObject(body)) {
      throw badRequest('expected {"user":U,"text":T,"client_id":C?}');
    }
    const user = checkUser(body.user);
    const text = checkText(body.text);
    const clientId = checkClientId(body.client_id);
    return json(200, await room.post(name, user, text, clientId));
  }
  // ws: a bad user or after is a plain 400, before any upgrade.
  checkUser(params.get("user"));
  uintParam(params, "after", 0);
  if ((request.headers.get("upgrade") ?? "").toLowerCase() !== "websocket") {
    throw new HttpError(426, "upgrade_required", "this route takes a WebSocket upgrade");
  }
  return room.fetch(request);
}

export default {
  async fetch(request, env) {
    try {
      return await route(request, env);
    } catch (e) {
      if (e instanceof HttpError) {
        return errorResponse(e);
      }
      throw e;
    }
  },
};
