//! Turning an OCI image into a bootable disk: pull with podman, read the
//! image config, copy the program ELF out, and `ops build` it.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use super::exec::{Secrets, Tool};
use super::ops::{self, ImageConfig};
use super::podman_cli::PodmanCli;

/// Real ops may download its Nanos kernel on a first build.
const BUILD: Duration = Duration::from_secs(900);

/// Pulls `image` if it is not present, then reads its config.
pub fn ensure_image(podman: &PodmanCli, image: &str) -> anyhow::Result<ImageConfig> {
    if !podman.image_exists(image)? {
        podman.pull(image)?;
    }
    let config = podman.inspect_image(image)?;
    if config.id.is_empty() {
        anyhow::bail!("podman image inspect {image} shows no image id");
    }
    Ok(config)
}

/// Copies the program out of the image into `dest_dir` and returns its path.
///
/// A throw-away container (`podman create`, never started) gives `podman cp`
/// something to copy from; this works rootless too, unlike `image mount`.
/// Symlinks (e.g. `/bin/sh -> busybox`) are followed inside the image.
pub fn extract_program(
    podman: &PodmanCli,
    image: &str,
    config: &ImageConfig,
    program: &str,
    dest_dir: &Path,
) -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let scratch = format!("mcp-extract-{}-{nanos}", std::process::id());
    podman.create_scratch(&scratch, image).with_context(|| {
        format!("creating a scratch container of {image} to copy {program} out")
    })?;
    let copied = copy_out(podman, &scratch, config, program, dest_dir);
    let removed = podman.remove(&scratch);
    let path = copied.with_context(|| format!("copying the program {program} out of {image}"))?;
    removed.with_context(|| format!("removing the scratch container {scratch}"))?;
    Ok(path)
}

fn copy_out(
    podman: &PodmanCli,
    container: &str,
    config: &ImageConfig,
    program: &str,
    dest_dir: &Path,
) -> anyhow::Result<PathBuf> {
    let candidates: Vec<String> = if program.starts_with('/') {
        vec![program.to_string()]
    } else {
        ops::image_path(config)
            .iter()
            .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
            .collect()
    };
    let name = Path::new(program)
        .file_name()
        .context("the program has no file name")?;
    let dest = dest_dir.join(name);
    let mut last_err = None;
    'candidates: for candidate in candidates {
        let mut source = candidate;
        for _ in 0..8 {
            let _ = fs::remove_file(&dest);
            if let Err(e) = podman.cp(container, &source, &dest) {
                last_err = Some(e);
                continue 'candidates;
            }
            let meta = fs::symlink_metadata(&dest)
                .with_context(|| format!("reading {}", dest.display()))?;
            if !meta.file_type().is_symlink() {
                check_elf(&dest, &source)?;
                return Ok(dest);
            }
            let target = fs::read_link(&dest)?;
            source = resolve_link(&source, &target.to_string_lossy());
        }
        anyhow::bail!("{program}: too many levels of symbolic links in the image");
    }
    Err(last_err.unwrap_or_else(|| anyhow::anyhow!("{program} not found in the image")))
}

/// `target` of a symlink at `source`, as an absolute path inside the image.
fn resolve_link(source: &str, target: &str) -> String {
    if target.starts_with('/') {
        return target.to_string();
    }
    let dir = source.rsplit_once('/').map_or("", |(d, _)| d);
    format!("{dir}/{target}")
}

fn check_elf(path: &Path, source: &str) -> anyhow::Result<()> {
    let mut magic = [0u8; 4];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .with_context(|| format!("reading {}", path.display()))?;
    if &magic != b"\x7fELF" {
        anyhow::bail!(
            "{source} in the image is not an ELF program; a unikernel runs one program, not a script"
        );
    }
    Ok(())
}

/// Runs `ops build` and returns the disk image it wrote.
pub fn ops_build(
    ops: &Tool,
    elf: &Path,
    config: &Path,
    secrets: &Secrets,
    name: &str,
) -> anyhow::Result<PathBuf> {
    let args: Vec<OsString> = vec![
        "build".into(),
        elf.into(),
        "-c".into(),
        config.into(),
        "-i".into(),
        name.into(),
    ];
    let out = ops
        .run_with(args, secrets, BUILD)
        .with_context(|| format!("building the unikernel image {name}"))?;
    let disk = ops::parse_build_output(&out).with_context(|| {
        format!(
            "ops build printed no `Bootable image file:` line; it printed: {}",
            out.trim()
        )
    })?;
    if !disk.is_file() {
        anyhow::bail!("ops build named {} but no such file exists", disk.display());
    }
    Ok(disk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_resolve_inside_the_image() {
        assert_eq!(resolve_link("/bin/sh", "busybox"), "/bin/busybox");
        assert_eq!(resolve_link("/bin/sh", "/usr/bin/dash"), "/usr/bin/dash");
        assert_eq!(resolve_link("/usr/bin/x", "../lib/y"), "/usr/bin/../lib/y");
    }
}
