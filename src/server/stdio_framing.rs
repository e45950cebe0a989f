//! The line framing in front of rmcp's stdio transport. rmcp drops a line that is not JSON
//! without a word; JSON-RPC 2.0 answers it with a parse error (-32700, id null), so that a
//! client or a person typing into the server sees what went wrong. Replies are rate-limited so
//! that a peer echoing garbage back cannot start an error storm, and lines longer than
//! [`MAX_LINE_BYTES`] are skipped without being held in memory.
//!
//! stdin → [`pump_input`] → rmcp (through a pipe); rmcp → [`pump_output`] → stdout, which also
//! writes the parse errors, always as whole lines.

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// Longest line passed on, as rmcp's own limit.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// Parse errors answered per second; past that, lines that are not JSON are dropped silently.
const ERROR_REPLIES_PER_SECOND: u32 = 10;

/// One line as read.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A JSON value (or an empty line), to pass on, with its newline.
    Json(Vec<u8>),
    /// Not JSON.
    NotJson,
    /// Longer than [`MAX_LINE_BYTES`]; its bytes were skipped.
    TooLong,
}

/// What a reply to a bad line says: a JSON-RPC error line.
pub fn error_reply(line: &Line) -> Option<String> {
    let (code, message) = match line {
        Line::Json(_) => return None,
        Line::NotJson => (
            -32700,
            "Parse error: the line is not valid JSON; send one JSON-RPC message per line",
        ),
        Line::TooLong => (
            -32600,
            "Invalid request: the message is longer than 16 MiB and was skipped",
        ),
    };
    Some(format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{{\"code\":{code},\"message\":\"{message}\"}}}}\n"
    ))
}

/// Reads the next line (None at end of input), never buffering more than [`MAX_LINE_BYTES`].
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Line>> {
    buf.clear();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            // End of input: a last line without a newline still counts.
            if buf.is_empty() && !too_long {
                return Ok(None);
            }
            break;
        }
        let newline = available.iter().position(|b| *b == b'\n');
        let take = newline.map_or(available.len(), |i| i + 1);
        if !too_long && buf.len() + take > MAX_LINE_BYTES {
            too_long = true;
            buf.clear();
        }
        if !too_long {
            buf.extend_from_slice(&available[..take]);
        }
        reader.consume(take);
        if newline.is_some() {
            break;
        }
    }
    if too_long {
        return Ok(Some(Line::TooLong));
    }
    let text = buf.strip_suffix(b"\n").unwrap_or(buf);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    if text.iter().all(u8::is_ascii_whitespace)
        || serde_json::from_slice::<serde::de::IgnoredAny>(text).is_ok()
    {
        let mut line = text.to_vec();
        line.push(b'\n');
        return Ok(Some(Line::Json(line)));
    }
    Ok(Some(Line::NotJson))
}

/// Allows a few replies per second.
struct ReplyBudget {
    window: Instant,
    used: u32,
    dropped: u64,
}

impl ReplyBudget {
    fn allow(&mut self) -> bool {
        if self.window.elapsed() >= Duration::from_secs(1) {
            if self.dropped > 0 {
                tracing::warn!(
                    dropped = self.dropped,
                    "stdin carried more lines that are not JSON than are answered; the rest were dropped"
                );
            }
            self.window = Instant::now();
            self.used = 0;
            self.dropped = 0;
        }
        if self.used < ERROR_REPLIES_PER_SECOND {
            self.used += 1;
            true
        } else {
            self.dropped += 1;
            false
        }
    }
}

/// Passes the JSON lines of `input` on to `to_rmcp` and sends replies for the others to
/// `errors`. Closes `to_rmcp` at the end of input, which ends the session.
pub async fn pump_input<R, W>(input: R, mut to_rmcp: W, errors: mpsc::Sender<String>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut buf = Vec::new();
    let mut budget = ReplyBudget {
        window: Instant::now(),
        used: 0,
        dropped: 0,
    };
    loop {
        let line = match read_line(&mut reader, &mut buf).await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                tracing::error!("reading stdin failed: {e}");
                break;
            }
        };
        match line {
            Line::Json(bytes) => {
                if to_rmcp.write_all(&bytes).await.is_err() || to_rmcp.flush().await.is_err() {
                    break;
                }
            }
            bad => {
                tracing::debug!("stdin line refused: {bad:?}");
                if budget.allow()
                    && let Some(reply) = error_reply(&bad)
                    && errors.send(reply).await.is_err()
                {
                    break;
                }
            }
        }
    }
    let _ = to_rmcp.shutdown().await;
}

/// Writes rmcp's messages and the parse errors to `output`, each as one whole line, until rmcp
/// closes its side.
pub async fn pump_output<R, W>(from_rmcp: R, mut output: W, mut errors: mpsc::Receiver<String>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = BufReader::with_capacity(64 * 1024, from_rmcp);
    let mut line = Vec::new();
    let mut errors_open = true;
    loop {
        tokio::select! {
            read = reader.read_until(b'\n', &mut line) => {
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if output.write_all(&line).await.is_err() || output.flush().await.is_err() {
                            break;
                        }
                        line.clear();
                    }
                }
            }
            reply = errors.recv(), if errors_open => match reply {
                Some(reply) => {
                    if output.write_all(reply.as_bytes()).await.is_err()
                        || output.flush().await.is_err()
                    {
                        break;
                    }
                }
                None => errors_open = false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8]) -> Vec<Line> {
        let mut reader = BufReader::new(input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(line) = read_line(&mut reader, &mut buf).await.unwrap() {
            out.push(line);
        }
        out
    }

    #[tokio::test]
    async fn json_lines_pass_and_others_are_named() {
        let got = lines(b"{\"jsonrpc\":\"2.0\"}\r\nnot json\n\n[1,2]").await;
        assert_eq!(
            got,
            vec![
                Line::Json(b"{\"jsonrpc\":\"2.0\"}\n".to_vec()),
                Line::NotJson,
                Line::Json(b"\n".to_vec()),
                Line::Json(b"[1,2]\n".to_vec()),
            ]
        );
        let reply: serde_json::Value =
            serde_json::from_str(&error_reply(&Line::NotJson).unwrap()).unwrap();
        assert_eq!(reply["error"]["code"], -32700);
        assert_eq!(reply["id"], serde_json::Value::Null);
    }

    #[tokio::test]
    async fn an_oversized_line_is_skipped_and_the_next_one_read() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\n{\"ok\":true}\n");
        let got = lines(&input).await;
        assert_eq!(
            got,
            vec![Line::TooLong, Line::Json(b"{\"ok\":true}\n".to_vec())]
        );
    }
}
