//! The stdio framing (`docward::server::fuzzing::line_transport`, what `serve_stdio` reads
//! stdin with) on arbitrary bytes.
//!
//! Checks: no panic; at most one message per `\n`; the same messages however the bytes are
//! split into reads; heap at its peak linear in the input; with a small line cap, heap bounded
//! by the cap however long the input; every message received serialises again.

#![no_main]

mod peak_alloc;

use std::pin::Pin;
use std::task::{Context, Poll};

use docward::server::fuzzing::line_transport;
use libfuzzer_sys::fuzz_target;
use peak_alloc::{PeakAlloc, assert_linear, peak_during};
use rmcp::transport::Transport;
use tokio::io::{AsyncRead, ReadBuf};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Heap per input byte a parsed message may take (JSON values are larger than their text).
const HEAP_PER_BYTE: usize = 128;
/// Fixed heap: the read buffer, the writer and the error reply.
const HEAP_FIXED: usize = 256 * 1024;
/// The small line cap of the third run.
const SMALL_LINE_CAP: usize = 256;

fuzz_target!(|data: &[u8]| {
    let Some((&step, input)) = data.split_first() else {
        return;
    };
    let (whole, peak) = peak_during(|| receive_all(input, usize::MAX, None));
    assert_linear("stdio read", peak, input.len(), HEAP_PER_BYTE, HEAP_FIXED);
    let newlines = input.iter().filter(|&&b| b == b'\n').count();
    assert!(
        whole.len() <= newlines,
        "{} messages from {newlines} lines",
        whole.len()
    );

    let trickled = receive_all(input, usize::from(step % 16) + 1, None);
    assert_eq!(
        whole, trickled,
        "messages depend on how the input was split into reads"
    );

    let (_, peak) = peak_during(|| receive_all(input, usize::MAX, Some(SMALL_LINE_CAP)).len());
    assert_linear(
        "stdio read with a line cap",
        peak,
        SMALL_LINE_CAP,
        HEAP_PER_BYTE,
        HEAP_FIXED,
    );
});

/// Reads every message from `input`, `chunk` bytes per read at most, each as its JSON text.
fn receive_all(input: &[u8], chunk: usize, line_cap: Option<usize>) -> Vec<String> {
    let reader = Trickle { rest: input, chunk };
    let mut transport = line_transport(reader, tokio::io::sink());
    if let Some(cap) = line_cap {
        transport = transport.with_max_line_length(cap);
    }
    futures::executor::block_on(async {
        let mut out = Vec::new();
        while let Some(message) = transport.receive().await {
            let text = serde_json::to_string(&message).expect("a received message serialises");
            if line_cap.is_none() {
                out.push(text);
            }
        }
        out
    })
}

/// A reader that hands out at most `chunk` bytes per read.
struct Trickle<'a> {
    rest: &'a [u8],
    chunk: usize,
}

impl AsyncRead for Trickle<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.chunk.min(buf.remaining()).min(self.rest.len());
        let (now, later) = self.rest.split_at(n);
        buf.put_slice(now);
        self.rest = later;
        Poll::Ready(Ok(()))
    }
}
