// The chat page: the room list, joining a room, live messages and members over the room's
// WebSocket, sending, and reconnecting with `after` (the last id seen) after a drop.

import {
  ROOM_MAX,
  TEXT_MAX,
  USER_MAX,
  type ClientFrame,
  type ErrorBody,
  type Message,
  type RoomInfo,
  type RoomList,
  type ServerFrame,
} from "./protocol";

/** How many earlier messages a join shows. */
const HISTORY_ON_JOIN = 50;
/** Reconnect delays: from the first to the last, doubling, with jitter. */
const BACKOFF_FIRST_MS = 500;
const BACKOFF_LAST_MS = 10_000;

const NAME = /^[A-Za-z0-9_.-]+$/;
// Unicode category Cc except the line feed.
const CONTROL = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F]/;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found as T;
}

const ui = {
  status: element<HTMLParagraphElement>("status"),
  lobby: element<HTMLElement>("lobby"),
  joinForm: element<HTMLFormElement>("join-form"),
  user: element<HTMLInputElement>("user"),
  room: element<HTMLInputElement>("room"),
  roomNames: element<HTMLDataListElement>("room-names"),
  joinError: element<HTMLParagraphElement>("join-error"),
  refresh: element<HTMLButtonElement>("refresh"),
  rooms: element<HTMLUListElement>("rooms"),
  roomView: element<HTMLElement>("room-view"),
  roomTitle: element<HTMLHeadingElement>("room-title"),
  leave: element<HTMLButtonElement>("leave"),
  messages: element<HTMLOListElement>("messages"),
  members: element<HTMLUListElement>("members"),
  sendForm: element<HTMLFormElement>("send-form"),
  text: element<HTMLTextAreaElement>("text"),
};

/** The room this page is in, while it is in one. */
interface Session {
  room: string;
  user: string;
  socket: WebSocket | null;
  /** The highest message id shown: the `after` of the next connection. */
  lastId: number;
  /** Messages sent but not seen back yet, by client id, in the order they were sent. */
  pending: Map<string, { text: string; item: HTMLLIElement }>;
  /** The welcome's `last_id`: the replay after `lastId` ends with this id. */
  replayUntil: number;
  /** From connecting to the replay's end, pending messages may still come back. */
  replaying: boolean;
  retries: number;
  timer: number | undefined;
}

let session: Session | null = null;
let sent = 0;

function setStatus(text: string): void {
  ui.status.textContent = text;
}

function roomPath(room: string): string {
  return `/api/rooms/${encodeURIComponent(room)}`;
}

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = ((await response.json()) as ErrorBody).error.message;
    } catch {
      // Not an error body: keep the status line.
    }
    throw new Error(message);
  }
  return (await response.json()) as T;
}

// ---- The room list ----

async function loadRooms(): Promise<void> {
  try {
    const list = await getJson<RoomList>("/api/rooms?limit=100");
    ui.rooms.replaceChildren();
    ui.roomNames.replaceChildren();
    if (list.rooms.length === 0) {
      const empty = document.createElement("li");
      empty.textContent = "No rooms yet: name one above to start it.";
      ui.rooms.append(empty);
    }
    for (const room of list.rooms) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      const name = document.createElement("span");
      name.textContent = room.name;
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = `${room.messages} messages · ${room.members} here`;
      button.append(name, meta);
      button.addEventListener("click", () => {
        ui.room.value = room.name;
        if (ui.user.value) ui.joinForm.requestSubmit();
        else ui.user.focus();
      });
      item.append(button);
      ui.rooms.append(item);
      const option = document.createElement("option");
      option.value = room.name;
      ui.roomNames.append(option);
    }
  } catch (error) {
    setStatus(`Could not list the rooms: ${(error as Error).message}`);
  }
}

// ---- Joining and leaving ----

function nameError(what: string, value: string, max: number): string | null {
  if (value.length === 0 || value.length > max || !NAME.test(value)) {
    return `${what} is 1 to ${max} letters, digits, "_", "." or "-".`;
  }
  return null;
}

async function join(room: string, user: string): Promise<void> {
  const error = nameError("A name", user, USER_MAX) ?? nameError("A room", room, ROOM_MAX);
  ui.joinError.textContent = error ?? "";
  if (error) return;
  localStorage.setItem("chat.user", user);
  let info: RoomInfo;
  try {
    info = await getJson<RoomInfo>(roomPath(room));
  } catch (e) {
    ui.joinError.textContent = `Could not open ${room}: ${(e as Error).message}`;
    return;
  }
  leave();
  session = {
    room,
    user,
    socket: null,
    lastId: Math.max(0, info.last_id - HISTORY_ON_JOIN),
    pending: new Map(),
    replayUntil: 0,
    replaying: true,
    retries: 0,
    timer: undefined,
  };
  ui.messages.replaceChildren();
  ui.members.replaceChildren();
  ui.roomTitle.textContent = `# ${room}`;
  ui.lobby.hidden = true;
  ui.roomView.hidden = false;
  history.replaceState(null, "", `#${encodeURIComponent(room)}`);
  connect(session);
  ui.text.focus();
}

function leave(): void {
  if (!session) return;
  const old = session;
  session = null;
  clearTimeout(old.timer);
  old.socket?.close(1000, "left");
  ui.roomView.hidden = true;
  ui.lobby.hidden = false;
  history.replaceState(null, "", location.pathname);
  setStatus("");
  ui.room.focus();
  void loadRooms();
}

// ---- The socket ----

function connect(s: Session): void {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = `user=${encodeURIComponent(s.user)}&after=${s.lastId}`;
  const socket = new WebSocket(`${scheme}://${location.host}${roomPath(s.room)}/ws?${query}`);
  s.socket = socket;
  s.replaying = true;
  setStatus(s.retries === 0 ? `Joining ${s.room}…` : `Reconnecting to ${s.room}…`);

  socket.addEventListener("message", (event) => {
    if (session !== s || typeof event.data !== "string") return;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(event.data) as ServerFrame;
    } catch {
      return;
    }
    receive(s, frame);
  });
  socket.addEventListener("close", () => {
    if (session !== s || s.socket !== socket) return;
    s.socket = null;
    // Doubling, capped, with up to a quarter of jitter so that a room's clients do not
    // all come back at once.
    const delay = Math.min(BACKOFF_LAST_MS, BACKOFF_FIRST_MS * 2 ** s.retries);
    const wait = Math.round(delay * (0.75 + Math.random() * 0.25));
    s.retries += 1;
    setStatus(`Connection lost; reconnecting in ${(wait / 1000).toFixed(1)} s…`);
    s.timer = window.setTimeout(() => {
      if (session === s) connect(s);
    }, wait);
  });
}

function receive(s: Session, frame: ServerFrame): void {
  switch (frame.type) {
    case "welcome":
      s.retries = 0;
      s.replayUntil = frame.last_id;
      showMembers(s, frame.members);
      setStatus(`In ${frame.room} as ${frame.you}`);
      if (s.lastId >= s.replayUntil) endReplay(s);
      break;
    case "message":
      showMessage(s, frame);
      if (s.replaying && frame.id >= s.replayUntil) endReplay(s);
      break;
    case "presence":
      showMembers(s, frame.members);
      break;
    case "error":
      refused(s, frame.message);
      break;
    default: {
      // A frame type added to the protocol but not handled here fails the type check; at
      // run time, a newer server's frame is ignored.
      const unhandled: never = frame;
      void unhandled;
    }
  }
}

/** After a connection's replay, whatever is still pending was never stored: send it. */
function endReplay(s: Session): void {
  s.replaying = false;
  for (const [clientId, { text }] of s.pending) {
    transmit(s, { type: "send", text, client_id: clientId });
  }
}

function transmit(s: Session, frame: ClientFrame): void {
  if (s.socket?.readyState === WebSocket.OPEN) s.socket.send(JSON.stringify(frame));
}

// ---- Showing ----

function showMessage(s: Session, message: Message): void {
  // A replay can repeat what this page already shows.
  if (message.id <= s.lastId) return;
  s.lastId = message.id;
  const item = document.createElement("li");
  item.dataset.id = String(message.id);
  const user = document.createElement("span");
  user.className = "user";
  user.textContent = message.user;
  const time = document.createElement("time");
  const at = new Date(message.at_ms);
  time.dateTime = at.toISOString();
  time.textContent = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const text = document.createElement("p");
  text.className = "text";
  text.textContent = message.text;
  item.append(user, time, text);

  const mine = message.client_id ? s.pending.get(message.client_id) : undefined;
  if (mine && message.client_id) {
    mine.item.remove();
    s.pending.delete(message.client_id);
  }
  const firstPending = ui.messages.querySelector("li.pending");
  ui.messages.insertBefore(item, firstPending);
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

/**
 * The server answers each sent frame, in order, with its message or an error frame: an
 * error is the answer to the oldest message still pending.
 */
function refused(s: Session, reason: string): void {
  const oldest = s.pending.entries().next();
  if (oldest.done) {
    notice(`Error: ${reason}`);
    return;
  }
  const [clientId, { item }] = oldest.value;
  s.pending.delete(clientId);
  item.className = "failed";
  const why = document.createElement("p");
  why.className = "reason";
  why.textContent = `Not sent: ${reason}`;
  item.append(why);
}

function notice(text: string): void {
  const item = document.createElement("li");
  item.className = "notice";
  item.textContent = text;
  ui.messages.append(item);
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function showMembers(s: Session, members: string[]): void {
  ui.members.replaceChildren(
    ...[...members].sort().map((name) => {
      const item = document.createElement("li");
      item.dataset.user = name;
      item.textContent = name === s.user ? `${name} (you)` : name;
      if (name === s.user) item.className = "you";
      return item;
    }),
  );
}

// ---- Sending ----

function textError(text: string): string | null {
  const length = [...text].length;
  if (length === 0) return "Write something first.";
  if (length > TEXT_MAX) return `A message is at most ${TEXT_MAX} characters (this one has ${length}).`;
  if (CONTROL.test(text)) return "A message cannot hold tabs or other control characters.";
  return null;
}

function send(): void {
  const s = session;
  if (!s) return;
  const text = ui.text.value;
  const error = textError(text);
  if (error) {
    setStatus(error);
    return;
  }
  sent += 1;
  const clientId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}-${sent}`;
  const item = document.createElement("li");
  item.className = "pending";
  const user = document.createElement("span");
  user.className = "user";
  user.textContent = s.user;
  const body = document.createElement("p");
  body.className = "text";
  body.textContent = text;
  item.append(user, body);
  ui.messages.append(item);
  s.pending.set(clientId, { text, item });
  // Sent now if the socket is open and caught up; else at the end of the next replay.
  if (!s.replaying) transmit(s, { type: "send", text, client_id: clientId });
  ui.text.value = "";
}

// ---- Wiring ----

ui.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  void join(ui.room.value.trim(), ui.user.value.trim());
});
ui.refresh.addEventListener("click", () => void loadRooms());
ui.leave.addEventListener("click", leave);
ui.sendForm.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
ui.text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});

ui.user.value = localStorage.getItem("chat.user") ?? "";
const linked = decodeURIComponent(location.hash.slice(1));
if (linked) ui.room.value = linked;
void loadRooms();
