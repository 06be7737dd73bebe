//! Key-log files (format: `spec/keylog.md`): one line per opened session, for decrypting captures.
//!
//! Like TLS's `SSLKEYLOGFILE`, this is opt-in and meant for debugging: whoever
//! holds the file can read every logged session. The lines come from the
//! crypto profile ([`crate::session::SessionInfo::key_log`]); this module only
//! appends them to a file, which it creates readable by its owner only.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The environment variable naming a key-log file.
pub const ENV_VAR: &str = "RTMFP_KEYLOGFILE";

/// An open key-log file, appended to.
#[derive(Debug)]
pub struct KeyLogFile {
    path: PathBuf,
    file: File,
}

impl KeyLogFile {
    /// Opens `path` for appending, creating it (mode 0600 on Unix) if needed.
    pub fn open(path: impl AsRef<Path>) -> io::Result<KeyLogFile> {
        let path = path.as_ref().to_path_buf();
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path)?;
        Ok(KeyLogFile { path, file })
    }

    /// The file named by `RTMFP_KEYLOGFILE`, if that is set and not empty.
    pub fn from_env() -> io::Result<Option<KeyLogFile>> {
        match std::env::var_os(ENV_VAR) {
            Some(p) if !p.is_empty() => KeyLogFile::open(p).map(Some),
            _ => Ok(None),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line (a newline is added) and flushes it, so a capture
    /// tool reading the file meanwhile sees whole lines.
    pub fn append(&mut self, line: &str) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.trim_end().as_bytes());
        bytes.push(b'\n');
        self.file.write_all(&bytes)?;
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_whole_lines() {
        let path = std::env::temp_dir().join(format!("rtmfp-keylog-unit-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut k = KeyLogFile::open(&path).unwrap();
        k.append("RTMFP_KEYLOG role=client").unwrap();
        drop(k);
        KeyLogFile::open(&path)
            .unwrap()
            .append("RTMFP_KEYLOG role=server\n")
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "RTMFP_KEYLOG role=client\nRTMFP_KEYLOG role=server\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key log is private to its owner");
        }
        let _ = std::fs::remove_file(&path);
    }
}
