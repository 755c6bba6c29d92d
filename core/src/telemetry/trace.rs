//! Spans: W3C trace context (`traceparent`), the scope a fetch runs in, and the spans it ends.
//!
//! A fetch's scope travels with its task (a tokio task-local, carried into the tasks the
//! single-flight spawns), so that the HTTP calls under it become its children and add their
//! time to it, whichever task they run in.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::otlp::{self, Attribute, Message, Value};

/// A W3C trace context: the trace, the span that is the parent of what comes next, and whether
/// the trace is recorded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    sampled: bool,
}

impl TraceContext {
    /// Parses a `traceparent` header (`00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`).
    /// `None` for anything the W3C specification says to ignore: a malformed value, the
    /// invalid version `ff`, an all-zero id. A later version's extra fields are ignored.
    pub fn parse(value: &str) -> Option<TraceContext> {
        let value = value.trim();
        let mut parts = value.split('-');
        let version = parts.next()?;
        let (trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?);
        if version.len() != 2 || !is_lower_hex(version) || version == "ff" {
            return None;
        }
        if version == "00" && parts.next().is_some() {
            return None;
        }
        let mut trace_id = [0; 16];
        let mut span_id = [0; 8];
        if flags.len() != 2 || !is_lower_hex(flags) {
            return None;
        }
        decode_hex(trace, &mut trace_id)?;
        decode_hex(span, &mut span_id)?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(TraceContext {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    /// The `traceparent` header value naming this span as the parent.
    pub fn header(&self) -> String {
        format!(
            "00-{}-{}-{}",
            hex(&self.trace_id),
            hex(&self.span_id),
            if self.sampled { "01" } else { "00" }
        )
    }

    /// The trace id, 32 lowercase hex digits.
    pub fn trace_id(&self) -> String {
        hex(&self.trace_id)
    }

    /// The span id, 16 lowercase hex digits.
    pub fn span_id(&self) -> String {
        hex(&self.span_id)
    }

    /// Whether the trace is recorded.
    pub fn sampled(&self) -> bool {
        self.sampled
    }
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header())
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn decode_hex(s: &str, out: &mut [u8]) -> Option<()> {
    if s.len() != out.len() * 2 || !is_lower_hex(s) {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Nanoseconds since the Unix epoch.
pub(crate) fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// What a fetch (or a caller's request with a `traceparent`) runs in.
pub(crate) struct Scope {
    /// The span its work is a child of.
    pub(crate) context: Option<TraceContext>,
    /// Whether `context` came from the caller (another process's span).
    pub(crate) remote: bool,
    /// Microseconds spent in HTTP requests under it.
    pub(crate) http_us: AtomicU64,
    /// The token was read from the shared cache (another machine fetched it).
    pub(crate) from_shared_cache: AtomicBool,
    /// Tags for the fetch's span, added by the work under it.
    pub(crate) attributes: std::sync::Mutex<Vec<Attribute>>,
}

impl Scope {
    pub(crate) fn new(context: Option<TraceContext>, remote: bool) -> Arc<Scope> {
        Arc::new(Scope {
            context,
            remote,
            http_us: AtomicU64::new(0),
            from_shared_cache: AtomicBool::new(false),
            attributes: std::sync::Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn add_http(&self, micros: u64) {
        self.http_us.fetch_add(micros, Ordering::Relaxed);
    }
}

tokio::task_local! {
    pub(crate) static SCOPE: Arc<Scope>;
}

/// The scope the current task runs in, if any.
pub(crate) fn current() -> Option<Arc<Scope>> {
    SCOPE.try_with(Arc::clone).ok()
}

/// `SpanKind`: INTERNAL = 1, CLIENT = 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Internal = 1,
    Client = 3,
}

/// A span being recorded.
pub(crate) struct Span {
    pub(crate) context: TraceContext,
    parent: Option<[u8; 8]>,
    remote_parent: bool,
    name: &'static str,
    kind: Kind,
    start_ns: u64,
    attributes: Vec<Attribute>,
    error: Option<String>,
}

/// A span that has ended, waiting for export.
pub(crate) struct Ended {
    span: Span,
    end_ns: u64,
}

impl Span {
    /// A span under `parent` (a new trace when `None`). `sampled` says whether it is recorded;
    /// an unrecorded span still names itself in `traceparent`.
    pub(crate) fn new(
        name: &'static str,
        kind: Kind,
        parent: Option<TraceContext>,
        remote_parent: bool,
        sampled: impl FnOnce(&[u8; 16]) -> bool,
    ) -> Span {
        let mut ids = [0u8; 24];
        random_bytes(&mut ids);
        let mut trace_id = [0; 16];
        let mut span_id = [0; 8];
        trace_id.copy_from_slice(&ids[..16]);
        span_id.copy_from_slice(&ids[16..]);
        if span_id == [0; 8] {
            span_id[7] = 1;
        }
        let (trace_id, sampled) = match parent {
            Some(p) => (p.trace_id, sampled(&p.trace_id)),
            None => (trace_id, sampled(&trace_id)),
        };
        Span {
            context: TraceContext {
                trace_id,
                span_id,
                sampled,
            },
            parent: parent.map(|p| p.span_id),
            remote_parent,
            name,
            kind,
            start_ns: now_ns(),
            attributes: Vec::new(),
            error: None,
        }
    }

    pub(crate) fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        if self.context.sampled {
            self.attributes.push((key, value.into()));
        }
    }

    /// Marks the span failed (status ERROR) with a short description: an error code, never a
    /// message that could quote a server's answer.
    pub(crate) fn fail(&mut self, description: String) {
        self.error = Some(description);
    }

    pub(crate) fn end(self) -> Option<Ended> {
        self.context.sampled.then(|| Ended {
            end_ns: now_ns(),
            span: self,
        })
    }
}

fn random_bytes(out: &mut [u8]) {
    use ring::rand::SecureRandom;
    if ring::rand::SystemRandom::new().fill(out).is_err() {
        // No system randomness (it does not happen on supported systems): ids stay unique
        // within the process from the clock and a counter.
        static COUNTER: AtomicU64 = AtomicU64::new(1);
        let seed = now_ns() ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32);
        for (i, b) in out.iter_mut().enumerate() {
            *b = (seed.rotate_left((i as u32 * 8) % 64) as u8) ^ (i as u8);
        }
    }
}

/// An `ExportTraceServiceRequest` of `spans`.
pub(crate) fn encode(spans: &[Ended], resource: &[(String, Value)]) -> Vec<u8> {
    let mut request = Message::default();
    request.message(1, |rs| {
        otlp::resource(rs, 1, resource);
        rs.message(2, |ss| {
            otlp::scope(ss, 1, super::metrics::CERTLESS_SCOPE, crate::VERSION);
            for ended in spans {
                let s = &ended.span;
                ss.message(2, |m| {
                    m.bytes(1, &s.context.trace_id);
                    m.bytes(2, &s.context.span_id);
                    if let Some(parent) = &s.parent {
                        m.bytes(4, parent);
                    }
                    m.string(5, s.name);
                    m.uint(6, s.kind as u64);
                    m.key_fixed64(7, s.start_ns);
                    m.key_fixed64(8, ended.end_ns);
                    otlp::attributes(m, 9, s.attributes.iter().map(|(k, v)| (*k, v)));
                    // Status { string message = 2; StatusCode code = 3 } (ERROR = 2).
                    if let Some(error) = &s.error {
                        m.message(15, |status| {
                            status.string(2, error);
                            status.uint(3, 2);
                        });
                    }
                    // Span flags: the W3C flags, and whether the parent is remote (bits 8, 9).
                    let remote = match (s.parent, s.remote_parent) {
                        (None, _) => 0,
                        (Some(_), false) => 0x100,
                        (Some(_), true) => 0x300,
                    };
                    m.fixed32(16, 1 | remote);
                });
            }
        });
    });
    request.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_w3c_example_round_trips() {
        let c = TraceContext::parse(EXAMPLE).expect("valid");
        assert_eq!(c.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(c.span_id(), "00f067aa0ba902b7");
        assert!(c.sampled());
        assert_eq!(c.header(), EXAMPLE);
    }

    #[test]
    fn what_the_w3c_says_to_ignore_is_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(TraceContext::parse(bad).is_none(), "{bad:?}");
        }
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-comes";
        let c = TraceContext::parse(later).expect("a later version's extra fields are ignored");
        assert!(!c.sampled());
    }

    #[test]
    fn a_child_keeps_the_trace_and_gets_its_own_span() {
        let parent = TraceContext::parse(EXAMPLE).expect("valid");
        let child = Span::new("x", Kind::Client, Some(parent), true, |_| true);
        assert_eq!(child.context.trace_id, parent.trace_id);
        assert_ne!(child.context.span_id, parent.span_id);
        assert_eq!(child.parent, Some(parent.span_id));
        let root = Span::new("x", Kind::Internal, None, false, |_| true);
        assert_ne!(root.context.trace_id, parent.trace_id);
        assert!(root.parent.is_none());
    }
}
