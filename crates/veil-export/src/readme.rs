//! `README.txt`: how the recipient checks and plays a package without Veil.

use crate::key::NAMESPACE;
use crate::package::names;

/// The text, for package `package_id` signed as `principal` with the key of
/// `fingerprint`.
pub fn text(package_id: &str, principal: &str, fingerprint: &str) -> String {
    format!(
        "\
VIDEO EVIDENCE EXPORT {package_id}
=====================================================================

This folder holds video recordings exported from a Veil video system,
with the proof that they are complete and unaltered. You do not need
Veil to check or play them. The commands below are standard tools on
Linux and macOS (OpenSSH 8.2 or later, GNU coreutils) and on Windows
through WSL.

1. If you received a file ending in .age, decrypt it first, with the
   age tool (https://age-encryption.org), then unpack it:

       age -d -o package.tar {package_id}.tar.age
       tar -xf package.tar

   age asks for the passphrase you were given, or use your key file:
   age -d -i your-key.txt -o package.tar {package_id}.tar.age

2. Check the signature of the manifest. The sender should give you
   the key fingerprint below by a separate channel (telephone, letter);
   compare it with the output of `ssh-keygen -l -f {public_key}`.

       Signing key fingerprint: {fingerprint}

       ssh-keygen -Y verify -f {allowed} -I {principal} \\
           -n {NAMESPACE} -s {signature} < {manifest}

   It must print: Good \"{NAMESPACE}\" signature for {principal}

3. Check that no file was changed. manifest.json lists the SHA-256
   of every file; SHA256SUMS holds the same list for sha256sum:

       sha256sum -c {sums}

   Every line must end in OK.

4. Play the videos in the video/ folder with any player (VLC, mpv,
   ffplay, a web browser). They are standard MP4 files (H.264); their
   names give the camera and the UTC start time.

What the manifest says
----------------------
manifest.json names the cameras, the intervals asked for and any
intervals deliberately left out (\"excluded\"), whether privacy masks
were applied (\"rendition\": protected) or lifted (original), who asked
for and authorised the export (pseudonyms), and when this copy expires.
For each video it lists the recorded segments it was cut from and any
gaps with their reason (not recorded, removed by retention, ...).

The \"chains\" section proves completeness: every recorded segment of a
camera is a link in a hash chain whose latest link was signed into the
system's access record at a checkpoint. `veil export verify` checks all
of this automatically; the format is described in the Veil
documentation (docs/design/export.md and docs/audit-format.md).

Please destroy this copy when it is no longer needed for the purpose it
was given for, and tell the sender that you have done so.
",
        public_key = names::PUBLIC_KEY,
        allowed = names::ALLOWED_SIGNERS,
        signature = names::SIGNATURE,
        manifest = names::MANIFEST,
        sums = names::SUMS,
    )
}
