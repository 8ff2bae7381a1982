//! How results reach people and scripts: tables on a terminal, plain stable
//! columns in a pipe, JSON with `--json`, nothing but changes with `-q`.

use std::io::{IsTerminal, Write};

use comfy_table::{ColumnConstraint, ContentArrangement, Table, Width, presets};
use serde::Serialize;

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
    /// stdout is a terminal: tables and progress are allowed.
    pub tty: bool,
    pub color: bool,
}

impl Output {
    pub fn new(json: bool, quiet: bool, verbose: bool) -> Self {
        let tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            json,
            quiet,
            verbose,
            tty,
            color: tty && !no_color,
        }
    }

    /// Whether progress indicators may be drawn.
    pub fn progress(&self) -> bool {
        self.tty && !self.quiet && !self.json && !self.verbose && std::io::stderr().is_terminal()
    }

    pub fn print_json<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        let written = serde_json::to_writer_pretty(&mut out, value)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out));
        match written {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// A table: boxed on a terminal, aligned plain columns in a pipe.
    pub fn table(&self, headers: &[&str], rows: &[Vec<String>]) -> String {
        if self.tty {
            boxed_table(headers, rows, terminal_width(), self.color)
        } else {
            plain_table(headers, rows)
        }
    }

    /// A line on stdout. A reader that went away (`mcp status | head`) is
    /// not an error of mcp's: the rest is dropped quietly.
    pub fn line(&self, text: &str) {
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
}

/// The width of the terminal on stdout, or `None` when it reports none.
/// Pseudo-terminals made by `script`, some CI runners and `ssh -t` wrappers
/// say 0 columns; laying a table out in 0 columns would stack every header
/// letter by letter, so 0 counts as unknown (then `COLUMNS`, if set, decides).
fn terminal_width() -> Option<u16> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct we pass; on
    // failure (not a terminal) it writes nothing and we read the zeroes.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        return Some(size.ws_col);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|&c| c > 0)
}

/// A boxed table. With a known `width` long cells wrap to fit it, but no
/// column gets narrower than its header (a table wider than a very narrow
/// terminal beats an unreadable one); with no width the table takes its
/// natural width.
pub fn boxed_table(
    headers: &[&str],
    rows: &[Vec<String>],
    width: Option<u16>,
    color: bool,
) -> String {
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_header(headers.iter().copied());
    if !color {
        table.force_no_tty();
    }
    for row in rows {
        table.add_row(row.iter().map(String::as_str));
    }
    match width {
        Some(w) => {
            table
                .set_width(w)
                .set_content_arrangement(ContentArrangement::Dynamic);
            let floors = headers.iter().map(|h| {
                let chars = u16::try_from(h.chars().count()).unwrap_or(u16::MAX);
                ColumnConstraint::LowerBoundary(Width::Fixed(chars.saturating_add(2)))
            });
            table.set_constraints(floors);
        }
        None => {
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    table.to_string()
}

/// Columns separated by two spaces, padded to the widest cell; the last
/// column is not padded so lines carry no trailing blanks.
pub fn plain_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i].saturating_sub(cell.chars().count());
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_tables_align_without_escapes() {
        let t = plain_table(
            &["SERVICE", "STATE"],
            &[
                vec!["web".into(), "running".into()],
                vec!["database".into(), "exited".into()],
            ],
        );
        assert_eq!(t, "SERVICE   STATE\nweb       running\ndatabase  exited");
        assert!(!t.contains('\x1b'));
    }

    const HEADERS: [&str; 4] = ["SERVICE", "COMPONENT", "OBSERVED", "DRIFT"];

    fn rows() -> Vec<Vec<String>> {
        vec![
            vec![
                "web".into(),
                "api".into(),
                "running".into(),
                "image v1 -> v2; spec changed: ports, env, volumes".into(),
            ],
            vec![
                "db".into(),
                "main".into(),
                "exited (137)".into(),
                "-".into(),
            ],
        ]
    }

    fn header_line(table: &str) -> &str {
        table.lines().nth(1).unwrap()
    }

    #[test]
    fn unknown_width_gives_the_natural_width() {
        let t = boxed_table(&HEADERS, &rows(), None, false);
        let header = header_line(&t);
        for h in HEADERS {
            assert!(header.contains(h), "{t}");
        }
        // One line per row: nothing wrapped.
        assert_eq!(t.lines().count(), 2 + 1 + rows().len() + 1, "{t}");
        assert!(t.contains("image v1 -> v2; spec changed: ports, env, volumes"));
    }

    #[test]
    fn narrow_terminals_wrap_cells_but_never_headers() {
        let t = boxed_table(&HEADERS, &rows(), Some(60), false);
        for line in t.lines() {
            assert!(line.chars().count() <= 60, "{t}");
        }
        let header = header_line(&t);
        for h in HEADERS {
            assert!(header.contains(h), "{t}");
        }
        assert!(t.lines().count() > 6, "the drift cell wraps:\n{t}");
        // Narrower than the headers themselves: headers stay whole.
        let t = boxed_table(&HEADERS, &rows(), Some(10), false);
        let header = header_line(&t);
        for h in HEADERS {
            assert!(header.contains(h), "{t}");
        }
    }
}
