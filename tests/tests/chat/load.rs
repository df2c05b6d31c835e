//! Many clients in several rooms at once, and workerd killed mid-run: every socket's
//! stream is gap-free and in order, the history is exact, and no acknowledged message is
//! lost.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::{
    as_history, get_json, history, message_id, ok_id, poll, post, start, Socket, FRAME_WAIT,
};
use crate::http::Client;

const ROOMS: usize = 3;
const SOCKETS_PER_ROOM: usize = 4;
const POSTERS_PER_ROOM: usize = 2;
const MESSAGES_EACH: usize = 15;

/// What one socket saw: its message frames by id, in the order they came.
#[derive(Default)]
struct Stream {
    frames: Vec<Value>,
}

impl Stream {
    /// Takes a frame; presence frames are skipped, anything else must be a message
    /// whose id follows the previous one.
    fn take(&mut self, who: &str, frame: Value) {
        if frame["type"] == "presence" {
            return;
        }
        let id = message_id(&frame);
        if let Some(last) = self.frames.last() {
            let last = last["id"].as_u64().expect("id");
            assert_eq!(id, last + 1, "{who}: message {id} came after {last}");
        }
        self.frames.push(frame);
    }

    fn last_id(&self) -> u64 {
        self.frames
            .last()
            .map_or(0, |f| f["id"].as_u64().expect("id"))
    }
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn many_clients_in_several_rooms_see_every_message_once_in_order() {
    let app = start();
    let client = app.worker.client();
    let base = app.worker.base_url();
    let per_room = (SOCKETS_PER_ROOM + POSTERS_PER_ROOM) * MESSAGES_EACH;
    let barrier = Barrier::new(ROOMS * (SOCKETS_PER_ROOM + POSTERS_PER_ROOM));
    // Per room: the frames each socket saw, and the HTTP acknowledgements.
    let streams: Mutex<BTreeMap<(usize, usize), Stream>> = Mutex::default();
    let posted: Mutex<HashMap<usize, Vec<Value>>> = Mutex::default();

    std::thread::scope(|scope| {
        for room in 0..ROOMS {
            for s in 0..SOCKETS_PER_ROOM {
                let (base, barrier, streams) = (&base, &barrier, &streams);
                scope.spawn(move || {
                    let name = format!("busy-{room}");
                    let user = format!("s{s}");
                    let mut socket = Socket::connect(base, &name, &format!("user={user}&after=0"));
                    socket.welcome(&name, &user);
                    barrier.wait();
                    let mut stream = Stream::default();
                    let who = format!("{name}/{user}");
                    for i in 0..MESSAGES_EACH {
                        let client_id = format!("{user}.{i}");
                        socket.send(&format!("{user} says {i}"), Some(&client_id));
                        // The acknowledgement is the message coming back.
                        loop {
                            let frame = socket.next();
                            let mine = frame["client_id"] == client_id.as_str();
                            stream.take(&who, frame);
                            if mine {
                                break;
                            }
                        }
                    }
                    let deadline = Instant::now() + FRAME_WAIT;
                    while stream.last_id() < per_room as u64 {
                        assert!(
                            Instant::now() < deadline,
                            "{who}: stuck at {}",
                            stream.last_id()
                        );
                        let frame = socket.next();
                        stream.take(&who, frame);
                    }
                    // Late joiners may still come and go: presence frames only.
                    socket.assert_no_message();
                    streams.lock().expect("lock").insert((room, s), stream);
                });
            }
            // Two late joiners, mid-run: one with the default `after` (the last id), one
            // with after=1. Each stream starts right after and has no gap.
            for late in 0..2 {
                let (client, base) = (client.clone(), &base);
                scope.spawn(move || {
                    let name = format!("busy-{room}");
                    let user = format!("late{late}");
                    let who = format!("{name}/{user}");
                    let started = poll(FRAME_WAIT, || {
                        let last = get_json(&client, &format!("/api/rooms/{name}"))["last_id"]
                            .as_u64()
                            .expect("last_id");
                        (last >= 10).then_some(())
                    });
                    assert!(
                        started.is_some(),
                        "{who}: the room never reached 10 messages"
                    );
                    let query = if late == 0 {
                        format!("user={user}")
                    } else {
                        format!("user={user}&after=1")
                    };
                    let mut socket = Socket::connect(base, &name, &query);
                    let welcome = socket.welcome(&name, &user);
                    let last_id = welcome["last_id"].as_u64().expect("last_id");
                    assert!(last_id >= 10, "{who}: {welcome}");
                    let first = if late == 0 { last_id + 1 } else { 2 };
                    let mut stream = Stream::default();
                    while stream.last_id() < per_room as u64 {
                        let frame = socket.next();
                        stream.take(&who, frame);
                        if let Some(frame) = stream.frames.first() {
                            assert_eq!(frame["id"], first, "{who}: its first message");
                        }
                    }
                });
            }
            for p in 0..POSTERS_PER_ROOM {
                let (client, barrier, posted) = (client.clone(), &barrier, &posted);
                scope.spawn(move || {
                    let name = format!("busy-{room}");
                    let user = format!("h{p}");
                    barrier.wait();
                    let mut mine = Vec::new();
                    for i in 0..MESSAGES_EACH {
                        let text = format!("{user} posts {i}");
                        let (id, at_ms) = ok_id(&post(
                            &client,
                            &name,
                            &json!({"user": user, "text": text, "client_id": format!("{user}.{i}")}),
                        ));
                        mine.push(json!({"type": "message", "id": id, "user": user, "text": text,
                                         "at_ms": at_ms, "client_id": format!("{user}.{i}")}));
                    }
                    posted.lock().expect("lock").entry(room).or_default().extend(mine);
                });
            }
        }
    });

    let streams = streams.into_inner().expect("lock");
    let posted = posted.into_inner().expect("lock");
    for room in 0..ROOMS {
        let name = format!("busy-{room}");
        let stored = history(&client, &name);
        let ids: Vec<u64> = stored
            .iter()
            .map(|m| m["id"].as_u64().expect("id"))
            .collect();
        assert_eq!(
            ids,
            (1..=per_room as u64).collect::<Vec<_>>(),
            "{name}: the history's ids"
        );
        // Every socket saw exactly the history, with the same frames as every other.
        let reference = &streams[&(room, 0)].frames;
        assert_eq!(reference.len(), per_room, "{name}");
        for s in 0..SOCKETS_PER_ROOM {
            assert_eq!(
                &streams[&(room, s)].frames,
                reference,
                "{name}: socket s{s}"
            );
        }
        let from_frames: Vec<Value> = reference.iter().map(as_history).collect();
        assert_eq!(from_frames, stored, "{name}: the frames are the history");
        // Each message sent once, under its own client_id.
        let mut sent: Vec<(String, String)> = Vec::new();
        for s in 0..SOCKETS_PER_ROOM {
            for i in 0..MESSAGES_EACH {
                sent.push((format!("s{s}.{i}"), format!("s{s} says {i}")));
            }
        }
        for p in 0..POSTERS_PER_ROOM {
            for i in 0..MESSAGES_EACH {
                sent.push((format!("h{p}.{i}"), format!("h{p} posts {i}")));
            }
        }
        let mut seen: Vec<(String, String)> = reference
            .iter()
            .map(|f| {
                (
                    f["client_id"]
                        .as_str()
                        .expect("every message had a client_id")
                        .to_owned(),
                    f["text"].as_str().expect("text").to_owned(),
                )
            })
            .collect();
        sent.sort();
        seen.sort();
        assert_eq!(seen, sent, "{name}: every message exactly once");
        // The HTTP replies name the frames' ids and at_ms.
        for acknowledged in &posted[&room] {
            let id = acknowledged["id"].as_u64().expect("id");
            assert_eq!(
                &reference[id as usize - 1],
                acknowledged,
                "{name}: message {id}"
            );
        }
    }
}

/// A socket client's record across the kill: the frames it saw, and the ids of its
/// acknowledged messages.
struct Record {
    user: String,
    room: String,
    stream: Stream,
    acknowledged: Vec<Value>,
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn clients_resume_with_after_across_a_kill_and_lose_nothing_acknowledged() {
    const KILL_ROOMS: usize = 2;
    const KILL_SOCKETS: usize = 3;
    let mut app = start();
    let base = app.worker.base_url();
    let client = app.worker.client();
    let stop = AtomicBool::new(false);
    let records: Mutex<Vec<Record>> = Mutex::default();
    // The sockets and this thread: the kill comes once every socket has joined.
    let joined = Barrier::new(KILL_ROOMS * KILL_SOCKETS + 1);
    let http_acks: Mutex<Vec<(String, Value)>> = Mutex::default();

    std::thread::scope(|scope| {
        for room in 0..KILL_ROOMS {
            for s in 0..KILL_SOCKETS {
                let (base, stop, records, joined) = (&base, &stop, &records, &joined);
                scope.spawn(move || {
                    let name = format!("crash-{room}");
                    let user = format!("s{s}");
                    let who = format!("{name}/{user}");
                    let mut socket = Socket::connect(base, &name, &format!("user={user}&after=0"));
                    socket.welcome(&name, &user);
                    joined.wait();
                    let mut record = Record {
                        user: user.clone(),
                        room: name.clone(),
                        stream: Stream::default(),
                        acknowledged: Vec::new(),
                    };
                    let mut i = 0;
                    // Send and read until the worker dies under us.
                    'run: while !stop.load(Ordering::SeqCst) {
                        let client_id = format!("{user}.{i}");
                        let frame = json!({"type": "send", "text": format!("{user} {i}"), "client_id": client_id});
                        if socket.try_send_text(&frame.to_string()).is_err() {
                            break;
                        }
                        i += 1;
                        loop {
                            match socket.try_next(FRAME_WAIT) {
                                Ok(Some(frame)) => {
                                    let mine = frame["client_id"] == client_id.as_str();
                                    if mine {
                                        record.acknowledged.push(frame.clone());
                                    }
                                    record.stream.take(&who, frame);
                                    if mine {
                                        break;
                                    }
                                }
                                Ok(None) => {
                                    assert!(stop.load(Ordering::SeqCst), "{who}: no acknowledgement while the worker ran");
                                    break 'run;
                                }
                                Err(_) => break 'run,
                            }
                        }
                    }
                    records.lock().expect("lock").push(record);
                });
            }
            let (client, stop, http_acks) = (client.clone(), &stop, &http_acks);
            scope.spawn(move || {
                let name = format!("crash-{room}");
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let text = format!("h {i}");
                    i += 1;
                    let body = json!({"user": "h", "text": text, "client_id": format!("h.{i}")});
                    match client.try_post_with(
                        &format!("/api/rooms/{name}/messages"),
                        &[("content-type", "application/json")],
                        body.to_string().as_bytes(),
                    ) {
                        Ok(reply) if reply.status == 200 => {
                            let (id, at_ms) = ok_id(&reply);
                            let message =
                                json!({"id": id, "user": "h", "text": text, "at_ms": at_ms});
                            http_acks
                                .lock()
                                .expect("lock")
                                .push((name.clone(), message));
                        }
                        _ => break,
                    }
                }
            });
        }
        joined.wait();
        std::thread::sleep(Duration::from_secs(3));
        // SIGKILL to wrangler and workerd while the clients are mid-flight.
        app.worker.kill();
        stop.store(true, Ordering::SeqCst);
    });

    let mut records = records.into_inner().expect("lock");
    let http_acks = http_acks.into_inner().expect("lock");
    for record in &records {
        assert!(
            !record.acknowledged.is_empty(),
            "{}/{}: nothing was acknowledged before the kill",
            record.room,
            record.user
        );
    }

    app.worker.restart();
    let base = app.worker.base_url();
    let client: Client = app.worker.client();
    // Each client reconnects with after = the last id it saw, and receives the rest.
    let mut sockets = Vec::new();
    for record in &mut records {
        let after = record.stream.last_id();
        let who = format!("{}/{}", record.room, record.user);
        let mut socket = Socket::connect(
            &base,
            &record.room,
            &format!("user={}&after={after}", record.user),
        );
        let welcome = socket.welcome(&record.room, &record.user);
        let last_id = welcome["last_id"].as_u64().expect("last_id");
        assert!(
            last_id >= after,
            "{who}: the room went back from {after} to {last_id}"
        );
        while record.stream.last_id() < last_id {
            let frame = socket.next();
            record.stream.take(&who, frame);
        }
        sockets.push(socket);
    }
    // New messages after the restart reach every reconnected socket.
    for room in 0..KILL_ROOMS {
        let name = format!("crash-{room}");
        let text = "after the restart";
        let (id, at_ms) = ok_id(&post(&client, &name, &json!({"user": "h", "text": text})));
        for (record, socket) in records.iter_mut().zip(sockets.iter_mut()) {
            if record.room != name {
                continue;
            }
            let who = format!("{}/{}", record.room, record.user);
            loop {
                let frame = socket.next();
                let done = frame["type"] == "message" && frame["id"] == id;
                record.stream.take(&who, frame);
                if done {
                    break;
                }
            }
            assert_eq!(
                record.stream.frames.last().expect("a frame")["at_ms"],
                at_ms
            );
        }
    }

    for room in 0..KILL_ROOMS {
        let name = format!("crash-{room}");
        let stored = history(&client, &name);
        let ids: Vec<u64> = stored
            .iter()
            .map(|m| m["id"].as_u64().expect("id"))
            .collect();
        assert_eq!(
            ids,
            (1..=ids.len() as u64).collect::<Vec<_>>(),
            "{name}: the history's ids"
        );
        for record in records.iter().filter(|r| r.room == name) {
            let who = format!("{}/{}", record.room, record.user);
            // The whole stream, before and after the kill, is the history from id 1.
            let seen: Vec<Value> = record.stream.frames.iter().map(as_history).collect();
            assert_eq!(seen, stored, "{who}: its stream is the history");
            for acknowledged in &record.acknowledged {
                let id = acknowledged["id"].as_u64().expect("id");
                assert_eq!(
                    stored[id as usize - 1],
                    as_history(acknowledged),
                    "{who}: acknowledged {id}"
                );
            }
        }
        for (_, acknowledged) in http_acks.iter().filter(|(r, _)| *r == name) {
            let id = acknowledged["id"].as_u64().expect("id");
            assert_eq!(
                &stored[id as usize - 1],
                acknowledged,
                "{name}: posted {id}"
            );
        }
        // Each client_id at most once: nothing stored twice.
        let frames = &records
            .iter()
            .find(|r| r.room == name)
            .expect("a record")
            .stream
            .frames;
        let mut client_ids: Vec<&str> = frames
            .iter()
            .filter_map(|f| f["client_id"].as_str())
            .collect();
        let count = client_ids.len();
        client_ids.sort_unstable();
        client_ids.dedup();
        assert_eq!(client_ids.len(), count, "{name}: a client_id stored twice");
    }
}
