//! `mcp import compose FILE`: one service file from a compose file, every item that
//! does not map reported with file:line; nothing written while an error stands,
//! unless `--force`.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use super::Ctx;
use crate::bridge::compose::{self, Imported, Severity};
use crate::bridge::{interp, toml_out};
use crate::cli::ImportComposeArgs;
use crate::exit;

pub fn run(ctx: &Ctx, args: &ImportComposeArgs) -> anyhow::Result<u8> {
    let file = std::path::absolute(&args.file)
        .with_context(|| format!("resolving {}", args.file.display()))?;
    let source = std::fs::read_to_string(&file)
        .with_context(|| format!("reading the compose file {}", file.display()))?;
    let dir = file.parent().unwrap_or(Path::new("/")).to_path_buf();
    let vars = variables(&dir)?;
    let imported = compose::import(&compose::Input {
        source: &source,
        dir: &dir,
        vars: &vars,
        project: args.project.as_deref(),
        read_file: &|p| std::fs::read_to_string(p),
        exists: &|p| p.exists(),
    });
    let shown = args.file.display().to_string();
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| ctx.config.services_dir.clone());
    let target = out_dir.join(format!("{}.toml", imported.service));
    let errors = imported
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let blocked = errors > 0 && (!args.force || imported.components.is_empty());
    let text = toml_out::render(&imported, &file.display().to_string());
    if !blocked {
        self_check(&text, &target)?;
        check_beside_others(&out_dir, &target, &text)?;
    }

    let mut written = false;
    if !blocked && !args.dry_run {
        if target.exists() && !args.force {
            return Err(exit::UsageError(format!(
                "{} exists; --force replaces it (or choose another --out / --project)",
                target.display()
            ))
            .into());
        }
        // Env values are secrets: a file holding them is the owner's alone,
        // as `adopt --write-spec` writes it.
        let has_env = imported.components.iter().any(|c| !c.env.is_empty());
        write_atomic(&target, &text, if has_env { 0o600 } else { 0o644 })?;
        written = true;
    }

    if ctx.out.json {
        let findings: Vec<_> = imported
            .findings
            .iter()
            .map(|f| {
                json!({"file": shown, "line": f.line, "column": f.column,
                       "severity": f.severity, "key": f.key, "message": f.message})
            })
            .collect();
        ctx.out.print_json(&json!({
            "service": imported.service,
            "file": target,
            "written": written,
            "components": imported.components.iter().map(|c| &c.name).collect::<Vec<_>>(),
            "skipped": imported.skipped,
            "omitted": imported.omitted.iter().map(|(n, why)| json!({"service": n, "reason": why})).collect::<Vec<_>>(),
            "findings": findings,
            "text": if args.dry_run && !blocked { Some(&text) } else { None },
        }))?;
    } else {
        report(ctx, &shown, &imported);
        if blocked {
            eprintln!(
                "mcp: nothing written: {errors} error{} above{}",
                if errors == 1 { "" } else { "s" },
                if imported.components.is_empty() {
                    ""
                } else {
                    " (--force writes the rest and leaves out what cannot be mapped)"
                }
            );
        } else if args.dry_run {
            print!("{text}");
        } else if !ctx.out.quiet {
            let names: Vec<&str> = imported
                .components
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            ctx.out.line(&format!(
                "wrote {}: service {} with {} component{} ({})",
                target.display(),
                imported.service,
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            ));
        }
        if !blocked && !imported.skipped.is_empty() {
            eprintln!(
                "mcp: left out because of the errors above: {}",
                imported.skipped.join(", ")
            );
        }
    }
    Ok(if blocked {
        exit::INVALID_SPECS
    } else {
        exit::SUCCESS
    })
}

/// The importing shell's environment, then `.env` beside the compose file.
fn variables(dir: &Path) -> anyhow::Result<interp::Vars> {
    let mut vars = interp::Vars {
        env: std::env::vars().collect(),
        ..Default::default()
    };
    let dotenv = dir.join(".env");
    match std::fs::read_to_string(&dotenv) {
        Ok(text) => {
            let (parsed, bad) = interp::parse_env_file(&text);
            if let Some(line) = bad.first() {
                return Err(exit::UsageError(format!(
                    "{}:{line}: not a KEY=VALUE line; fix or remove it",
                    dotenv.display()
                ))
                .into());
            }
            vars.dotenv = parsed;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", dotenv.display())),
    }
    Ok(vars)
}

/// Findings on stderr, `file:line:col: severity: key: message`; warnings not under -q.
fn report(ctx: &Ctx, file: &str, imported: &Imported) {
    for f in &imported.findings {
        if f.severity == Severity::Warning && ctx.out.quiet {
            continue;
        }
        let severity = match f.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        let key = if f.key.is_empty() {
            String::new()
        } else {
            format!("{}: ", f.key)
        };
        eprintln!(
            "{file}:{}:{}: {severity}: {key}{}",
            f.line, f.column, f.message
        );
    }
    for (name, why) in &imported.omitted {
        if !ctx.out.quiet {
            eprintln!("mcp: not imported: {name} ({why})");
        }
    }
}

/// What import writes must pass `mcp validate`: checked before anything is written,
/// so a mapping bug shows as an error here rather than as a broken services dir.
fn self_check(text: &str, target: &Path) -> anyhow::Result<()> {
    let stem = target
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut reader = crate::spec::parse::FileReader::new(target, text);
    let parsed = reader.read_service(&stem);
    if parsed.is_none() || !reader.diagnostics.is_empty() {
        let lines: Vec<String> = reader.diagnostics.iter().map(|d| d.to_string()).collect();
        anyhow::bail!(
            "the service file made from the compose file does not validate (a bug in mcp import):\n{}\n--- file ---\n{text}",
            lines.join("\n")
        );
    }
    Ok(())
}

/// The new file among the others of the directory must validate too (a host port
/// another service publishes, a duplicate name): otherwise every later `sync` would
/// refuse the whole directory. Problems the directory had before are not ours.
fn check_beside_others(out_dir: &Path, target: &Path, text: &str) -> anyhow::Result<()> {
    if !out_dir.is_dir() {
        return Ok(());
    }
    let scratch = std::env::temp_dir().join(format!(
        "mcp-import.{}.{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    ));
    let result = (|| {
        // Private: the copies include service files holding env values.
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&scratch)
            .with_context(|| format!("creating {}", scratch.display()))?;
        for entry in
            std::fs::read_dir(out_dir).with_context(|| format!("reading {}", out_dir.display()))?
        {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "toml")
                && path.is_file()
                && let Some(name) = path.file_name()
            {
                std::fs::copy(&path, scratch.join(name))
                    .with_context(|| format!("copying {}", path.display()))?;
            }
        }
        let before = diagnostics(&scratch)?;
        let name = target.file_name().unwrap_or_default();
        // The copy of the file this import replaces, if any, goes first.
        let _ = std::fs::remove_file(scratch.join(name));
        crate::safefs::write_new(&scratch.join(name), text.as_bytes(), 0o600)
            .with_context(|| format!("writing into {}", scratch.display()))?;
        let after = diagnostics(&scratch)?;
        let new: Vec<crate::spec::diag::Diagnostic> = after
            .into_iter()
            .filter(|d| !before.contains(d))
            .map(|mut d| {
                // Name the real directory, not the scratch copy.
                if let Some(n) = d.file.file_name() {
                    d.file = out_dir.join(n);
                }
                let (from, to) = (scratch.display().to_string(), out_dir.display().to_string());
                d.message = d.message.replace(&from, &to);
                d.hint = d.hint.map(|h| h.replace(&from, &to));
                d
            })
            .collect();
        if new.is_empty() {
            Ok(())
        } else {
            eprintln!(
                "mcp: nothing written: {} would not validate beside the other service files:",
                target.display()
            );
            Err(crate::spec::InvalidSpecs(new).into())
        }
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn diagnostics(dir: &Path) -> anyhow::Result<Vec<crate::spec::diag::Diagnostic>> {
    match crate::spec::load_dir(dir) {
        Ok(_) => Ok(Vec::new()),
        Err(e) => match e.downcast::<crate::spec::InvalidSpecs>() {
            Ok(invalid) => Ok(invalid.0),
            Err(other) => Err(other),
        },
    }
}

fn write_atomic(target: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp: PathBuf = dir.join(format!(
        ".{}.import.{}",
        target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    // A temp file left by a killed import of the same pid is stale.
    let _ = std::fs::remove_file(&tmp);
    crate::safefs::write_new(&tmp, text.as_bytes(), mode)?;
    std::fs::rename(&tmp, target).with_context(|| format!("renaming into {}", target.display()))
}
