//! Where the command line's words and files go: standard output, standard error, and the files
//! and directories a command is asked to write. Every command writes through here, so all of
//! them treat a closed pipe, a full disk and an unusable path the same way:
//!
//! - standard output closed by its reader (EPIPE: `mvlab check --json ... | head -1`): the rest
//!   is dropped quietly and the exit code is the command's own, as with `ls | head`;
//! - any other failure to write standard output or a file (ENOSPC, as `> /dev/full` gives; EIO):
//!   `error: writing ...: REASON`, exit 4 (the command could not complete);
//! - standard error that cannot be written is ignored: there is nowhere left to say anything;
//! - an output file or directory that can never be written (its directory missing, a file where
//!   a directory must be, a directory where a file goes, no permission) is refused before any
//!   work is done, exit 2 (`OutputFile::open`, `output_dir`).
//!
//! It formats nothing (`report/` does) and decides no verdict.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::diag::Outcome;

/// `eprintln!` that never panics (see `stderr`).
macro_rules! stderr {
    ($($arg:tt)*) => {
        $crate::cli::output::stderr(&format!($($arg)*))
    };
}

/// Writes `text` to standard error, ending it with a newline when it has none; a closed or full
/// standard error is ignored.
pub fn stderr(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = err.write_all(b"\n");
    }
}

/// What a failed write to standard output means: nothing when the reader has gone (EPIPE), the
/// command could not complete otherwise.
fn stdout_failed(e: &io::Error) -> Result<(), Outcome> {
    if e.kind() == ErrorKind::BrokenPipe {
        return Ok(());
    }
    stderr!("error: writing to standard output: {e}");
    Err(Outcome::RuntimeFailure)
}

/// Writes `text` to standard output as it is.
pub fn stdout(text: &str) -> Result<(), Outcome> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) => stdout_failed(&e),
    }
}

/// Writes `text` to standard output as one line (the newline added when it has none).
pub fn stdout_line(text: &str) -> Result<(), Outcome> {
    if text.ends_with('\n') {
        stdout(text)
    } else {
        stdout(&format!("{text}\n"))
    }
}

/// Streams `value` to standard output as pretty JSON and a newline (a capture of a million
/// source MACs never exists as one string).
pub fn stdout_json(value: &impl Serialize) -> Result<(), Outcome> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(io::Error::from)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(()),
        Err(e) => stdout_failed(&e),
    }
}

/// Why `path` cannot be opened for writing, in words that name the component at fault.
fn unusable(path: &Path, e: &io::Error) -> String {
    let shown = path.display();
    match e.kind() {
        ErrorKind::IsADirectory => format!(
            "{shown} is a directory; give a file name in it, e.g. {}",
            path.join("out").display()
        ),
        ErrorKind::NotADirectory => match first_non_directory(path) {
            Some(file) => format!(
                "cannot write {shown}: {} is not a directory",
                file.display()
            ),
            None => format!("cannot write {shown}: {e}"),
        },
        ErrorKind::NotFound => match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(dir) if !dir.exists() => format!(
                "cannot write {shown}: the directory {} does not exist",
                dir.display()
            ),
            _ => format!("cannot write {shown}: {e}"),
        },
        _ => format!("cannot write {shown}: {e}"),
    }
}

/// The first ancestor of `path` (itself excluded) that exists and is not a directory.
fn first_non_directory(path: &Path) -> Option<PathBuf> {
    let mut ancestors: Vec<&Path> = path.ancestors().skip(1).collect();
    ancestors.reverse();
    ancestors
        .into_iter()
        .filter(|a| !a.as_os_str().is_empty())
        .find(|a| a.exists() && !a.is_dir())
        .map(Path::to_path_buf)
}

/// The hint under a file path that cannot be written.
const FILE_HINT: &str = "give a path in a directory you can write";
/// The hint under a directory that cannot be made or written into.
const DIR_HINT: &str = "give a directory you can write (it is made when missing)";

fn refuse(message: String, hint: &str) -> Outcome {
    stderr!("error: {message}\n  hint: {hint}");
    Outcome::BadInput
}

/// A file a command will write at its end, opened before it starts: a path that cannot be
/// written is refused before any work (exit 2). A file this creates and never writes (the
/// command failed or was interrupted) is removed again, so no report is left half-made; a file
/// that existed is left as it was until `write` replaces its contents.
#[derive(Debug)]
pub struct OutputFile {
    path: PathBuf,
    file: Option<File>,
    created: bool,
}

impl OutputFile {
    pub fn open(path: &Path) -> Result<OutputFile, Outcome> {
        let opened = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map(|f| (f, true))
            .or_else(|e| match e.kind() {
                ErrorKind::AlreadyExists => OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map(|f| (f, false)),
                _ => Err(e),
            });
        match opened {
            Ok((file, created)) => Ok(OutputFile {
                path: path.to_path_buf(),
                file: Some(file),
                created,
            }),
            Err(e) => Err(refuse(unusable(path, &e), FILE_HINT)),
        }
    }

    /// Replaces the file's contents with `text` (a device or pipe gets `text` appended).
    pub fn write(mut self, text: &str) -> Result<(), Outcome> {
        let mut file = self.file.take().expect("written once");
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        let written = if regular { file.set_len(0) } else { Ok(()) }
            .and_then(|()| file.write_all(text.as_bytes()))
            .and_then(|()| file.flush());
        written.map_err(|e| {
            stderr!("error: writing {}: {e}", self.path.display());
            Outcome::RuntimeFailure
        })
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if self.file.take().is_some() && self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Makes sure `dir` is a directory this process can write into, creating it (and its parents)
/// when missing; refused before any work (exit 2) when it cannot be.
pub fn output_dir(dir: &Path) -> Result<(), Outcome> {
    if dir.exists() && !dir.is_dir() {
        return Err(refuse(
            format!("{} is not a directory", dir.display()),
            DIR_HINT,
        ));
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        let message = match first_non_directory(dir) {
            Some(file) => format!(
                "cannot create the directory {}: {} is not a directory",
                dir.display(),
                file.display()
            ),
            None => format!("cannot create the directory {}: {e}", dir.display()),
        };
        return Err(refuse(message, DIR_HINT));
    }
    nix::unistd::access(
        dir,
        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
    )
    .map_err(|e| {
        refuse(
            format!("cannot write into {}: {}", dir.display(), e.desc()),
            DIR_HINT,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mvlab-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_file_where_a_directory_must_be_is_named() {
        let dir = scratch("notdir");
        let file = dir.join("f");
        std::fs::write(&file, "x").unwrap();
        let target = file.join("sub/r.json");
        let e = File::create(&target).unwrap_err();
        assert_eq!(
            unusable(&target, &e),
            format!(
                "cannot write {}: {} is not a directory",
                target.display(),
                file.display()
            )
        );
        assert_eq!(OutputFile::open(&target).unwrap_err(), Outcome::BadInput);
        assert_eq!(output_dir(&file.join("pcap")), Err(Outcome::BadInput));
        assert_eq!(output_dir(&file), Err(Outcome::BadInput));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_and_a_directory_for_a_file_are_named() {
        let dir = scratch("missing");
        let target = dir.join("nope/r.json");
        let e = File::create(&target).unwrap_err();
        assert!(
            unusable(&target, &e).ends_with(&format!(
                "the directory {} does not exist",
                dir.join("nope").display()
            )),
            "{}",
            unusable(&target, &e)
        );
        let e = File::create(&dir).unwrap_err();
        assert!(unusable(&dir, &e).contains("is a directory"));
        assert_eq!(OutputFile::open(&dir).unwrap_err(), Outcome::BadInput);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_opened_and_never_written_is_removed_and_an_old_one_kept() {
        let dir = scratch("unwritten");
        let new = dir.join("new.json");
        drop(OutputFile::open(&new).unwrap());
        assert!(!new.exists());
        let old = dir.join("old.json");
        std::fs::write(&old, "earlier result").unwrap();
        drop(OutputFile::open(&old).unwrap());
        assert_eq!(std::fs::read_to_string(&old).unwrap(), "earlier result");
        OutputFile::open(&old).unwrap().write("new").unwrap();
        assert_eq!(std::fs::read_to_string(&old).unwrap(), "new");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_full_device_fails_the_write_not_the_open() {
        let full = Path::new("/dev/full");
        let file = OutputFile::open(full).unwrap();
        assert_eq!(file.write("x"), Err(Outcome::RuntimeFailure));
        assert!(full.exists());
    }
}
