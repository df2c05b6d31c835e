//! A small `tracing` subscriber that writes one line per event, with the fields of the
//! spans it happened in, to a sink (in workerd: the console, so lines show in
//! `wrangler dev` and `wrangler tail`).
//!
//! It keeps what a Durable Object's logs need (a level filter, span fields such as the
//! object and the method, fields recorded after the span was made) and nothing else, so
//! that logging costs little code in the wasm: no registry of its own, no timings, no
//! colours. Spans and events above the level are disabled at their call sites.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::cell::RefCell;
use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// Where finished lines go.
pub(crate) type Sink = fn(Level, &str);

struct Span {
    name: &'static str,
    fields: String,
    refs: usize,
}

#[derive(Default)]
struct Spans {
    /// Slot `i` holds span id `i + 1`; `None` is a free slot.
    slots: Vec<Option<Span>>,
    free: Vec<usize>,
    /// The entered spans, innermost last.
    stack: Vec<Id>,
}

/// The subscriber. Single-threaded, like a wasm isolate; `Send + Sync` because `tracing`
/// requires it of a global default.
pub(crate) struct Console {
    max: Level,
    sink: Sink,
    spans: ThreadLocalSpans,
}

/// The span table. On wasm there is one thread; natively (tests) each thread gets its own.
struct ThreadLocalSpans;

thread_local! {
    static SPANS: RefCell<Spans> = RefCell::new(Spans::default());
}

impl ThreadLocalSpans {
    fn with<R>(&self, f: impl FnOnce(&mut Spans) -> R) -> R {
        SPANS.with(|s| f(&mut s.borrow_mut()))
    }
}

impl Console {
    pub(crate) fn new(max: Level, sink: Sink) -> Self {
        Console {
            max,
            sink,
            spans: ThreadLocalSpans,
        }
    }
}

/// Writes `name=value` pairs, and keeps the `message` field apart.
struct Fields<'a> {
    out: &'a mut String,
    message: Option<&'a mut String>,
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            if let Some(m) = self.message.as_deref_mut() {
                let _ = write!(m, "{value:?}");
                return;
            }
        }
        if !self.out.is_empty() {
            self.out.push(' ');
        }
        let _ = write!(self.out, "{}={value:?}", field.name());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        // Strings read better unquoted in a message, quoted in a field.
        if field.name() == "message" {
            if let Some(m) = self.message.as_deref_mut() {
                m.push_str(value);
                return;
            }
        }
        self.record_debug(field, &value)
    }
}

impl Subscriber for Console {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.enabled(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from_level(self.max))
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = String::new();
        span.record(&mut Fields {
            out: &mut fields,
            message: None,
        });
        let data = Span {
            name: span.metadata().name(),
            fields,
            refs: 1,
        };
        self.spans.with(|s| {
            let slot = match s.free.pop() {
                Some(i) => {
                    s.slots[i] = Some(data);
                    i
                }
                None => {
                    s.slots.push(Some(data));
                    s.slots.len() - 1
                }
            };
            Id::from_u64(slot as u64 + 1)
        })
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        self.spans.with(|s| {
            if let Some(Some(data)) = s.slots.get_mut(index(span)) {
                values.record(&mut Fields {
                    out: &mut data.fields,
                    message: None,
                });
            }
        })
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let mut message = String::new();
        let mut fields = String::new();
        event.record(&mut Fields {
            out: &mut fields,
            message: Some(&mut message),
        });
        let mut line = format!("{} {}: {message}", meta.level(), meta.target());
        if !fields.is_empty() {
            line.push(' ');
            line.push_str(&fields);
        }
        self.spans.with(|s| {
            for id in s.stack.iter().rev() {
                if let Some(Some(span)) = s.slots.get(index(id)) {
                    let _ = write!(line, " in {}{{{}}}", span.name, span.fields);
                }
            }
        });
        (self.sink)(*meta.level(), &line);
    }

    fn enter(&self, span: &Id) {
        self.spans.with(|s| s.stack.push(span.clone()));
    }

    fn exit(&self, span: &Id) {
        self.spans.with(|s| {
            if let Some(at) = s.stack.iter().rposition(|id| id == span) {
                s.stack.remove(at);
            }
        })
    }

    fn clone_span(&self, span: &Id) -> Id {
        self.spans.with(|s| {
            if let Some(Some(data)) = s.slots.get_mut(index(span)) {
                data.refs += 1;
            }
        });
        span.clone()
    }

    fn try_close(&self, span: Id) -> bool {
        self.spans.with(|s| {
            let i = index(&span);
            let closed = match s.slots.get_mut(i) {
                Some(Some(data)) => {
                    data.refs -= 1;
                    data.refs == 0
                }
                _ => false,
            };
            if closed {
                s.slots[i] = None;
                s.free.push(i);
            }
            closed
        })
    }
}

fn index(id: &Id) -> usize {
    (id.into_u64() - 1) as usize
}

/// Parses a `DURO_LOG` value (`error`, `warn`, `info`, `debug`, `trace`, any case).
pub(crate) fn parse_level(value: &str) -> Option<Level> {
    value.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    static LINES: Mutex<Vec<(Level, String)>> = Mutex::new(Vec::new());

    fn sink(level: Level, line: &str) {
        LINES.lock().unwrap().push((level, line.to_owned()));
    }

    #[test]
    fn writes_events_with_span_fields_at_or_below_the_level() {
        let console = Console::new(Level::INFO, sink);
        tracing::subscriber::with_default(console, || {
            let span = tracing::info_span!(
                "duro.call",
                object = "a",
                method = "add",
                outcome = tracing::field::Empty
            );
            span.record("outcome", "internal");
            {
                let _enter = span.enter();
                tracing::error!(error = %"boom", "duro call failed");
                tracing::debug!("not written");
            }
            tracing::warn!(attempts = 3, "outside");
            drop(span);
            // Slots are reused once spans close.
            let again = tracing::info_span!("second");
            let _e = again.enter();
            tracing::info!("inside again");
        });
        let lines = std::mem::take(&mut *LINES.lock().unwrap());
        let text: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            text,
            [
                "ERROR duro::log::tests: duro call failed error=boom in duro.call{object=\"a\" method=\"add\" outcome=\"internal\"}",
                "WARN duro::log::tests: outside attempts=3",
                "INFO duro::log::tests: inside again in second{}",
            ]
        );
        assert_eq!(lines[0].0, Level::ERROR);
    }

    #[test]
    fn parses_levels() {
        assert_eq!(parse_level("debug"), Some(Level::DEBUG));
        assert_eq!(parse_level(" WARN "), Some(Level::WARN));
        assert_eq!(parse_level("loud"), None);
    }
}
