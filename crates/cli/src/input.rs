//! Reading messages: whole text files, one message per line, or JSON Lines, always streamed.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

use anyhow::Context;
use clap::ValueEnum;
use serde::Deserialize;
use serde_json::Value;

use screen::{Attachments, Direction, MAX_MESSAGE_BYTES, Message};

/// The longest input line kept in memory. A JSON-escaped 1 MiB message can take up to six times
/// its size (`\u00e9` for every byte), so the limit sits above that; longer lines are skipped with
/// an error instead of being buffered without bound.
pub(crate) const MAX_LINE_BYTES: usize = 8 * MAX_MESSAGE_BYTES;

/// How the bytes of an input are split into messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum InputKind {
    /// Plain UTF-8 text: the whole input is one message, or each line with `--per-line`.
    Text,
    /// One JSON object per line with `text` and optional `id`, `direction`, `channel`,
    /// `attachments` and `paid`.
    Jsonl,
}

/// The name stdin goes by in messages and reports.
pub(crate) const STDIN: &str = "<stdin>";

/// One input stream with the name used in messages and reports.
pub(crate) struct Input {
    /// File name as given, or [`STDIN`].
    pub name: String,
    /// Size in bytes when known (regular files), for the progress bar.
    pub len: Option<u64>,
    reader: Box<dyn BufRead>,
}

impl Input {
    /// Open a file, or stdin for `-`.
    pub fn open(path: &str) -> anyhow::Result<Input> {
        if path == "-" {
            return Ok(Input::from_reader(STDIN, Box::new(io::stdin().lock())));
        }
        let file = File::open(path).with_context(|| format!("cannot open {path}"))?;
        let len = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        Ok(Input {
            name: path.to_owned(),
            len,
            reader: Box::new(BufReader::with_capacity(1 << 16, file)),
        })
    }

    /// Wrap any reader (used by the benchmark's generated stream).
    pub fn from_reader(name: &str, reader: Box<dyn BufRead>) -> Input {
        Input {
            name: name.to_owned(),
            len: None,
            reader,
        }
    }

    /// The kind implied by the name: `.jsonl` files are JSON Lines, everything else text.
    pub fn default_kind(&self) -> InputKind {
        if self.name.ends_with(".jsonl") {
            InputKind::Jsonl
        } else {
            InputKind::Text
        }
    }
}

/// A message read from an input, with where it came from.
#[derive(Debug)]
pub(crate) struct Record {
    /// 1-based line of the input where the message is (or starts, for a whole text file).
    pub line: usize,
    /// Byte offset of the message text in the input, when the text is stored there verbatim.
    pub byte_offset: Option<u64>,
    /// The caller's identifier, echoed as given.
    pub id: Option<Value>,
    /// The message to screen.
    pub message: Message,
}

/// A message that could not be read; the rest of the input is still read.
#[derive(Debug)]
pub(crate) struct RecordError {
    /// 1-based line of the input.
    pub line: usize,
    /// The caller's identifier, when it could still be read.
    pub id: Option<Value>,
    /// What is wrong, with enough detail to find and fix it.
    pub message: String,
}

/// What the reader produces for each message.
pub(crate) type Item = Result<Record, RecordError>;

/// Settings that shape how inputs become messages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadOptions {
    /// Whole input or per line.
    pub kind: InputKind,
    /// For text: one message per line instead of one per input.
    pub per_line: bool,
    /// Direction of text messages, and of JSON messages that do not say.
    pub direction: Direction,
}

/// Read every message of `input`, calling `each` with it and the number of bytes read so far.
/// Stops early only on an I/O error or when `each` fails.
pub(crate) fn read_all(
    input: &mut Input,
    opts: ReadOptions,
    mut each: impl FnMut(Item, u64) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let name = input.name.clone();
    match (opts.kind, opts.per_line) {
        (InputKind::Text, false) => {
            let item = read_whole_text(&mut input.reader, opts.direction)
                .with_context(|| format!("cannot read {name}"))?;
            let done = item.as_ref().map_or(0, |r| r.message.text.len() as u64);
            each(item, done)
        }
        (kind, _) => {
            let mut lines = Lines::new(&mut input.reader);
            let mut buf = Vec::new();
            while let Some(line) = lines
                .next_line(&mut buf)
                .with_context(|| format!("cannot read {name}"))?
            {
                let item = if line.too_long {
                    Some(Err(RecordError {
                        line: line.number,
                        id: None,
                        message: format!(
                            "line is longer than {} MiB; skipped",
                            MAX_LINE_BYTES >> 20
                        ),
                    }))
                } else {
                    match kind {
                        InputKind::Text => text_line(&buf, line, opts.direction),
                        InputKind::Jsonl => json_line(&buf, line.number, opts.direction),
                    }
                };
                if let Some(item) = item {
                    each(item, lines.offset)?;
                }
            }
            Ok(())
        }
    }
}

fn read_whole_text(reader: &mut dyn BufRead, direction: Direction) -> io::Result<Item> {
    let mut bytes = Vec::new();
    // One byte past the limit is enough to know the message is too large without reading it all.
    reader
        .take(MAX_MESSAGE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Ok(Err(RecordError {
            line: 1,
            id: None,
            message: "the text is larger than the 1 MiB limit for one message; use --per-line or split it".to_owned(),
        }));
    }
    Ok(match String::from_utf8(bytes) {
        Ok(text) => Ok(Record {
            line: 1,
            byte_offset: Some(0),
            id: None,
            message: Message {
                text,
                direction,
                ..Message::default()
            },
        }),
        Err(e) => {
            let bytes = e.as_bytes();
            let bad = e.utf8_error().valid_up_to();
            let before = bytes.get(..bad).unwrap_or_default();
            let line = 1 + memchr::memchr_iter(b'\n', before).count();
            let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
            Err(RecordError {
                line,
                id: None,
                message: format!(
                    "invalid UTF-8 at byte offset {bad} (line {line}, byte {} of the line)",
                    bad - line_start + 1
                ),
            })
        }
    })
}

fn text_line(buf: &[u8], line: LineInfo, direction: Direction) -> Option<Item> {
    if buf.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    Some(match std::str::from_utf8(buf) {
        Ok(text) => Ok(Record {
            line: line.number,
            byte_offset: Some(line.offset),
            id: None,
            message: Message {
                text: text.to_owned(),
                direction,
                ..Message::default()
            },
        }),
        Err(e) => Err(RecordError {
            line: line.number,
            id: None,
            message: format!("invalid UTF-8 at byte {} of the line", e.valid_up_to() + 1),
        }),
    })
}

/// The JSON Lines input contract.
#[derive(Deserialize)]
struct JsonMessage {
    text: String,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    direction: Option<Direction>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    attachments: Attachments,
    #[serde(default)]
    paid: bool,
}

/// Only the id, to echo it back when the rest of the object is wrong.
#[derive(Deserialize)]
struct JsonId {
    #[serde(default)]
    id: Option<Value>,
}

fn json_line(buf: &[u8], line: usize, direction: Direction) -> Option<Item> {
    if buf.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    if let Err(e) = std::str::from_utf8(buf) {
        return Some(Err(RecordError {
            line,
            id: None,
            message: format!("invalid UTF-8 at byte {} of the line", e.valid_up_to() + 1),
        }));
    }
    let parsed: JsonMessage = match serde_json::from_slice(buf) {
        Ok(m) => m,
        Err(e) => {
            let id = serde_json::from_slice::<JsonId>(buf)
                .ok()
                .and_then(|j| j.id)
                .filter(valid_id);
            // serde's own "at line 1 column N" would read as the file's line 1: keep the column only.
            let text = e.to_string();
            let what = text
                .rsplit_once(" at line ")
                .map_or(text.as_str(), |(w, _)| w);
            let message = format!("invalid JSON at column {}: {what}", e.column());
            return Some(Err(RecordError { line, id, message }));
        }
    };
    let id = parsed.id.filter(|v| !v.is_null());
    if let Some(id) = &id
        && !valid_id(id)
    {
        return Some(Err(RecordError {
            line,
            id: None,
            message: "`id` must be a string or a number".to_owned(),
        }));
    }
    Some(Ok(Record {
        line,
        byte_offset: None,
        id,
        message: Message {
            text: parsed.text,
            direction: parsed.direction.unwrap_or(direction),
            channel: parsed.channel,
            attachments: parsed.attachments,
            paid: parsed.paid,
        },
    }))
}

fn valid_id(id: &Value) -> bool {
    id.is_string() || id.is_number()
}

/// Where a line sits in its input.
#[derive(Clone, Copy, Debug)]
struct LineInfo {
    /// 1-based line number.
    number: usize,
    /// Byte offset of its first byte.
    offset: u64,
    /// Longer than [`MAX_LINE_BYTES`]; the buffer holds nothing useful.
    too_long: bool,
}

/// Splits a reader into lines without holding more than one (bounded) line in memory.
struct Lines<'r> {
    reader: &'r mut dyn BufRead,
    number: usize,
    offset: u64,
}

impl<'r> Lines<'r> {
    fn new(reader: &'r mut dyn BufRead) -> Self {
        Lines {
            reader,
            number: 0,
            offset: 0,
        }
    }

    /// Read the next line into `buf` without its `\n` or `\r\n`; `None` at the end.
    fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<LineInfo>> {
        buf.clear();
        let start = self.offset;
        let mut too_long = false;
        let mut read_any = false;
        loop {
            let avail = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                break;
            }
            read_any = true;
            let (take, done) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            if !too_long {
                if buf.len().saturating_add(take) > MAX_LINE_BYTES {
                    too_long = true;
                    buf.clear();
                } else {
                    buf.extend_from_slice(avail.get(..take).unwrap_or_default());
                }
            }
            self.reader.consume(take);
            self.offset = self.offset.saturating_add(take as u64);
            if done {
                break;
            }
        }
        if !read_any {
            return Ok(None);
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        self.number += 1;
        Ok(Some(LineInfo {
            number: self.number,
            offset: start,
            too_long,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(kind: InputKind, per_line: bool, data: &'static [u8]) -> Vec<Item> {
        let mut input = Input::from_reader("t", Box::new(data));
        let opts = ReadOptions {
            kind,
            per_line,
            direction: Direction::Incoming,
        };
        let mut items = Vec::new();
        read_all(&mut input, opts, |item, _| {
            items.push(item);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        items
    }

    #[test]
    fn jsonl_keeps_line_numbers_across_blank_lines_and_echoes_ids() {
        let items = read(
            InputKind::Jsonl,
            false,
            b"{\"id\":7,\"text\":\"a\"}\n\n{\"id\":\"x\",\"text\":\"b\",\"direction\":\"outgoing\"}\r\n",
        );
        let [Ok(a), Ok(b)] = items.as_slice() else {
            panic!("{items:?}")
        };
        assert_eq!(
            (a.line, a.id.as_ref(), a.message.text.as_str()),
            (1, Some(&Value::from(7)), "a")
        );
        assert_eq!(
            (b.line, b.id.as_ref(), b.message.direction),
            (3, Some(&Value::from("x")), Direction::Outgoing)
        );
    }

    #[test]
    fn jsonl_errors_name_the_problem_and_keep_the_id() {
        let items = read(
            InputKind::Jsonl,
            false,
            b"{\"id\":3}\n{not json\n{\"id\":[1],\"text\":\"a\"}\n",
        );
        let msgs: Vec<(usize, Option<Value>, String)> = items
            .into_iter()
            .filter_map(Result::err)
            .map(|e| (e.line, e.id, e.message))
            .collect();
        assert_eq!(msgs.len(), 3);
        assert_eq!((msgs[0].0, msgs[0].1.clone()), (1, Some(Value::from(3))));
        assert!(msgs[0].2.contains("missing field `text`"), "{}", msgs[0].2);
        assert_eq!(msgs[1].2, "invalid JSON at column 2: key must be a string");
        assert_eq!(msgs[2].2, "`id` must be a string or a number");
    }

    #[test]
    fn whole_text_reports_line_and_byte_of_bad_utf8() {
        let items = read(InputKind::Text, false, b"ok\nfine \xff here\n");
        let [Err(e)] = items.as_slice() else {
            panic!("{items:?}")
        };
        assert_eq!(e.line, 2);
        assert_eq!(
            e.message,
            "invalid UTF-8 at byte offset 8 (line 2, byte 6 of the line)"
        );
    }

    #[test]
    fn per_line_text_skips_blank_lines_and_records_offsets() {
        let items = read(InputKind::Text, true, b"first\n\n  \nsecond");
        let recs: Vec<(usize, Option<u64>, String)> = items
            .into_iter()
            .flatten()
            .map(|r| (r.line, r.byte_offset, r.message.text))
            .collect();
        assert_eq!(
            recs,
            vec![
                (1, Some(0), "first".to_owned()),
                (4, Some(10), "second".to_owned())
            ]
        );
    }
}
