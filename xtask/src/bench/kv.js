// An in-memory Workers KV namespace for `cargo xtask bench`: the HTTP protocol that
// workerd's `kvNamespace` binding speaks to its service (as miniflare implements it),
// kept in a Map for the life of the process. Expiration is recorded, not enforced.
const entries = new Map(); // key -> { value: ArrayBuffer, metadata: string | null, expiration }

function keyOf(url) {
  const raw = url.pathname.slice(1);
  return url.searchParams.get("urlencoded")?.toLowerCase() === "true"
    ? decodeURIComponent(raw)
    : raw;
}

function decode(entry, type, withMetadata) {
  let value = entry ? new TextDecoder().decode(entry.value) : null;
  if (value !== null && type === "json") value = JSON.parse(value);
  if (!withMetadata) return value;
  return { value, metadata: entry?.metadata ? JSON.parse(entry.metadata) : null };
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === "POST" && url.pathname === "/bulk/get") {
      const { keys, type, withMetadata } = await request.json();
      const out = {};
      for (const key of keys) out[key] = decode(entries.get(key), type, withMetadata);
      return Response.json(out);
    }
    if (request.method === "GET" && url.pathname === "/") {
      const prefix = url.searchParams.get("prefix") ?? "";
      const limit = parseInt(url.searchParams.get("key_count_limit") ?? "1000");
      const cursor = url.searchParams.get("cursor");
      const names = [...entries.keys()].filter((k) => k.startsWith(prefix)).sort();
      const start = cursor ? names.findIndex((k) => k > atob(cursor)) : 0;
      const page = start < 0 ? [] : names.slice(start, start + limit);
      const done = start < 0 || start + limit >= names.length;
      const keys = page.map((name) => {
        const e = entries.get(name);
        const key = { name };
        if (e.expiration !== undefined) key.expiration = e.expiration;
        if (e.metadata !== null) key.metadata = e.metadata;
        return key;
      });
      return Response.json(
        done
          ? { keys, list_complete: true, cacheStatus: null }
          : { keys, list_complete: false, cursor: btoa(page[page.length - 1]), cacheStatus: null },
      );
    }
    const key = keyOf(url);
    if (key === "") return new Response("Key names must not be empty", { status: 400 });
    if (request.method === "GET") {
      const e = entries.get(key);
      if (!e) return new Response("Not Found", { status: 404 });
      const headers = new Headers();
      if (e.metadata !== null) headers.set("CF-KV-Metadata", e.metadata);
      if (e.expiration !== undefined) headers.set("CF-Expiration", String(e.expiration));
      return new Response(e.value, { headers });
    }
    if (request.method === "PUT") {
      const expiration = url.searchParams.get("expiration");
      const ttl = url.searchParams.get("expiration_ttl");
      entries.set(key, {
        value: await request.arrayBuffer(),
        metadata: request.headers.get("CF-KV-Metadata"),
        expiration: expiration
          ? parseInt(expiration)
          : ttl
            ? Math.floor(Date.now() / 1000) + parseInt(ttl)
            : undefined,
      });
      return new Response();
    }
    if (request.method === "DELETE") {
      entries.delete(key);
      return new Response();
    }
    return new Response("Method Not Allowed", { status: 405 });
  },
};
