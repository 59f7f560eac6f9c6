//! [`SecretFile`]: a secret in a file, read again at every login.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::{SecretFuture, SecretSource, SourceError, non_empty};

/// No secret is this long; a file that is has the wrong path.
const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// A secret in a file, such as a mounted Kubernetes or Docker secret. See the
/// [module docs](super) for an example.
///
/// The file is read each time a login needs the secret (a few microseconds; logins are rare),
/// so a rewritten or re-mounted file is used from the next login on, with no restart.
/// Surrounding whitespace (the trailing newline) is dropped. A file that is missing, empty,
/// not UTF-8 or larger than 64 KiB gives a transient [`SourceError`] naming the path, never
/// the content. The read is synchronous: keep the file local (tmpfs, as mounted secrets are).
#[derive(Clone)]
pub struct SecretFile {
    path: PathBuf,
}

impl SecretFile {
    /// The secret in the file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<SecretString, SourceError> {
        let shown = self.path.display();
        let failed = |what: &str| SourceError::transient(format!("the secret file {shown} {what}"));
        let file = std::fs::File::open(&self.path)
            .map_err(|e| failed("cannot be opened").with_cause(e))?;
        let mut bytes = Vec::new();
        file.take(MAX_SECRET_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| failed("cannot be read").with_cause(e))?;
        let bytes = zeroize::Zeroizing::new(bytes);
        if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
            return Err(failed("is larger than 64 KiB"));
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| failed("is not UTF-8"))?;
        non_empty(SecretString::from(text.trim())).map_err(|_| failed("is empty"))
    }
}

impl fmt::Debug for SecretFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretFile")
            .field("path", &self.path)
            .finish()
    }
}

impl SecretSource for SecretFile {
    fn secret(&self, _org: Option<i64>) -> SecretFuture<'_> {
        Box::pin(std::future::ready(self.read()))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[tokio::test]
    async fn a_rewritten_file_is_read_at_the_next_call_and_bad_files_name_only_their_path() {
        let dir = std::env::temp_dir().join(format!("ts-secret-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key");
        let source = SecretFile::new(&path);
        let missing = source.secret(None).await.unwrap_err();
        assert!(!missing.is_permanent());
        assert!(
            missing.to_string().contains("cannot be opened"),
            "{missing}"
        );
        std::fs::write(&path, "first-key\n").unwrap();
        assert_eq!(
            source.secret(Some(1)).await.unwrap().expose_secret(),
            "first-key"
        );
        std::fs::write(&path, "second-key").unwrap();
        assert_eq!(
            source.secret(None).await.unwrap().expose_secret(),
            "second-key"
        );
        std::fs::write(&path, " \n").unwrap();
        let empty = source.secret(None).await.unwrap_err();
        assert!(empty.to_string().ends_with("is empty"), "{empty}");
        std::fs::write(&path, [0xff, 0xfe, b's', b'e', b'c']).unwrap();
        let binary = source.secret(None).await.unwrap_err();
        assert!(binary.to_string().contains("not UTF-8"), "{binary}");
        std::fs::write(&path, vec![b'k'; 64 * 1024 + 1]).unwrap();
        let huge = source.secret(None).await.unwrap_err();
        assert!(huge.to_string().contains("64 KiB"), "{huge}");
        std::fs::write(&path, "third-key").unwrap();
        let shown = format!("{source:?} {:?}", source.secret(None).await.unwrap());
        assert!(!shown.contains("third-key"), "{shown}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
