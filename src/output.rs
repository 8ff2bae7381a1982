//! How results reach people and scripts: tables on a terminal, plain stable
//! columns in a pipe, JSON with `--json`, nothing but changes with `-q`.

use std::io::{IsTerminal, Write};

use comfy_table::{ContentArrangement, Table, presets};
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
            let mut table = Table::new();
            table
                .load_style(presets::UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_header(headers.iter().copied());
            if !self.color {
                table.force_no_tty();
            }
            for row in rows {
                table.add_row(row.iter().map(String::as_str));
            }
            table.to_string()
        } else {
            plain_table(headers, rows)
        }
    }

    /// A line on stdout. A reader that went away (`mcp status | head`) is
    /// not an error of mcp's: the rest is dropped quietly.
    pub fn line(&self, text: &str) {
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }

    /// Verbose trace of an external command, on stderr.
    pub fn trace(&self, text: &str) {
        if self.verbose {
            eprintln!("+ {text}");
        }
    }
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
}
