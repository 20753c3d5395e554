//! `veil export verify`: checks a package without the database
//! (`docs/design/export.md`): decrypts it, checks the manifest's signature,
//! every file's SHA-256, the recording-chain links and the signed
//! checkpoint that anchors them, and prints a report. Exit status 1 names
//! the first failure.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use veil_export::verify::{verify, Decrypt};

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Verify an export package (`.tar.age` or `.tar`).
    Verify {
        /// The package file.
        package: PathBuf,
        /// An age identity file (or an SSH private key) of a recipient.
        #[arg(long, conflicts_with = "passphrase_file")]
        identity: Option<PathBuf>,
        /// A file whose first line is the package's passphrase.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
        /// The export key you trust: `ssh-ed25519 AAAA…`, or a file holding
        /// it (`export-key.pub` or an `allowed_signers` line), received by
        /// another channel than the package. Without it the package's own
        /// key is used and the report says so.
        #[arg(long)]
        public_key: Option<String>,
    },
}

fn public_key(arg: &str) -> anyhow::Result<ssh_key::PublicKey> {
    let text = if arg.trim_start().starts_with("ssh-") {
        arg.to_owned()
    } else {
        std::fs::read_to_string(arg).with_context(|| format!("cannot read the public key {arg}"))?
    };
    veil_export::key::parse_public_key(&text).map_err(|e| anyhow::anyhow!("--public-key: {e}"))
}

fn decrypt(identity: Option<PathBuf>, passphrase: Option<PathBuf>) -> anyhow::Result<Decrypt> {
    if let Some(path) = identity {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the identity file {}", path.display()))?;
        // age identities (AGE-SECRET-KEY-1…) or an OpenSSH private key.
        if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
            let id =
                age::ssh::Identity::from_buffer(text.as_bytes(), Some(path.display().to_string()))
                    .with_context(|| {
                        format!("{} is not a usable SSH private key", path.display())
                    })?;
            return Ok(Decrypt::Identities(vec![Box::new(id)]));
        }
        let ids = age::IdentityFile::from_buffer(text.as_bytes())
            .and_then(|f| f.into_identities().map_err(std::io::Error::other))
            .with_context(|| format!("{} is not an age identity file", path.display()))?;
        return Ok(Decrypt::Identities(ids));
    }
    if let Some(path) = passphrase {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the passphrase file {}", path.display()))?;
        let line = text.lines().next().unwrap_or("").to_owned();
        if line.is_empty() {
            anyhow::bail!("the passphrase file {} is empty", path.display());
        }
        return Ok(Decrypt::Passphrase(line.into()));
    }
    Ok(Decrypt::None)
}

/// Runs `which`; an `Err` is printed and exits 1.
pub fn run(which: ExportCommand) -> anyhow::Result<()> {
    match which {
        ExportCommand::Verify {
            package,
            identity,
            passphrase_file,
            public_key: key,
        } => {
            let pinned = key.as_deref().map(public_key).transpose()?;
            let d = decrypt(identity, passphrase_file)?;
            let file = std::fs::File::open(&package)
                .with_context(|| format!("cannot open {}", package.display()))?;
            match verify(file, d, pinned) {
                Ok(report) => {
                    print!("{report}");
                    Ok(())
                }
                Err(e) => Err(anyhow::anyhow!("FAILED: {e}")),
            }
        }
    }
}
