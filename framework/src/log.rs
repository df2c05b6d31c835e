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

/// The id given to a span opened while the table is in use (by a log call made from
/// inside the subscriber, through some value's `Debug`): it names no slot, so the span is
/// simply not shown.
const UNTRACKED: u64 = u64::MAX;

impl ThreadLocalSpans {
    /// Runs `f` on the table, or returns `None` if the table is already in use.
    fn with<R>(&self, f: impl FnOnce(&mut Spans) -> R) -> Option<R> {
        SPANS.with(|s| s.try_borrow_mut().ok().map(|mut s| f(&mut s)))
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

    fn record_f64(&mut self, field: &Field, value: f64) {
        // serde_json's float writer is already in every worker; core's `f64` formatting
        // would add about 17 KB of wasm for the rare float field.
        let text = if value.is_finite() {
            serde_json::to_string(&value).unwrap_or_default()
        } else if value.is_nan() {
            "NaN".to_owned()
        } else if value > 0.0 {
            "inf".to_owned()
        } else {
            "-inf".to_owned()
        };
        self.record_debug(field, &format_args!("{text}"))
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
        self.spans
            .with(|s| {
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
            .unwrap_or_else(|| Id::from_u64(UNTRACKED))
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        // Formatted outside the table's borrow: a value's `Debug` may itself log.
        let mut more = String::new();
        values.record(&mut Fields {
            out: &mut more,
            message: None,
        });
        if more.is_empty() {
            return;
        }
        let _ = self.spans.with(|s| {
            if let Some(Some(data)) = s.slots.get_mut(index(span)) {
                if !data.fields.is_empty() {
                    data.fields.push(' ');
                }
                data.fields.push_str(&more);
            }
        });
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
        let _ = self.spans.with(|s| {
            for id in s.stack.iter().rev() {
                if let Some(Some(span)) = s.slots.get(index(id)) {
                    let _ = write!(line, " in {}{{{}}}", span.name, span.fields);
                }
            }
        });
        (self.sink)(*meta.level(), &line);
    }

    fn enter(&self, span: &Id) {
        let _ = self.spans.with(|s| s.stack.push(span.clone()));
    }

    fn exit(&self, span: &Id) {
        let _ = self.spans.with(|s| {
            if let Some(at) = s.stack.iter().rposition(|id| id == span) {
                s.stack.remove(at);
            }
        });
    }

    fn clone_span(&self, span: &Id) -> Id {
        let _ = self.spans.with(|s| {
            if let Some(Some(data)) = s.slots.get_mut(index(span)) {
                data.refs += 1;
            }
        });
        span.clone()
    }

    fn try_close(&self, span: Id) -> bool {
        self.spans
            .with(|s| {
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
            .unwrap_or(false)
    }
}

fn index(id: &Id) -> usize {
    usize::try_from(id.into_u64() - 1).unwrap_or(usize::MAX)
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
            tracing::warn!(
                attempts = 3,
                ratio = 1.5,
                whole = 2.0,
                nan = f64::NAN,
                low = f64::NEG_INFINITY,
                "outside"
            );
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
                "WARN duro::log::tests: outside attempts=3 ratio=1.5 whole=2.0 nan=NaN low=-inf",
                "INFO duro::log::tests: inside again in second{}",
            ]
        );
        assert_eq!(lines[0].0, Level::ERROR);
    }

    /// A value whose `Debug` logs: formatting it must not re-enter the span table.
    struct Chatty;

    impl fmt::Debug for Chatty {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let inner = tracing::info_span!("inner", deep = 1);
            let _e = inner.enter();
            tracing::warn!("from inside Debug");
            f.write_str("chatty")
        }
    }

    fn reentrant_sink(_: Level, line: &str) {
        REENTRANT.lock().unwrap().push(line.to_owned());
    }

    static REENTRANT: Mutex<Vec<String>> = Mutex::new(Vec::new());

    #[test]
    fn a_value_that_logs_while_being_formatted_does_not_break_the_subscriber() {
        let console = Console::new(Level::INFO, reentrant_sink);
        tracing::subscriber::with_default(console, || {
            let span = tracing::info_span!("outer", v = tracing::field::Empty);
            span.record("v", tracing::field::debug(&Chatty));
            let _e = span.enter();
            tracing::error!(value = ?Chatty, "outer event");
        });
        let lines = std::mem::take(&mut *REENTRANT.lock().unwrap());
        assert!(
            lines
                .iter()
                .any(|l| l == "ERROR duro::log::tests: outer event value=chatty in outer{v=chatty}"),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l.contains("from inside Debug")),
            "{lines:#?}"
        );
    }

    #[test]
    fn parses_levels() {
        assert_eq!(parse_level("debug"), Some(Level::DEBUG));
        assert_eq!(parse_level(" WARN "), Some(Level::WARN));
        assert_eq!(parse_level("loud"), None);
    }
}
