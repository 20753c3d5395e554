//! The enrolment QR code, checked by an independent decoder: the SVG is rendered
//! to PNG by `rsvg-convert` (Debian package `librsvg2-bin`) and read back by
//! `zbarimg` (Debian package `zbar-tools`). Both tools are required; a missing
//! tool fails the test with the package to install.

use std::path::Path;
use std::process::Command;

use veil_access::totp::{otpauth_uri, qr_svg, TotpSecret};

fn run(program: &str, package: &str, args: &[&std::ffi::OsStr]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install the Debian package {package}")
        });
    assert!(
        output.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("tool output is UTF-8")
}

fn decode_svg(svg: &str, dir: &Path) -> String {
    let svg_path = dir.join("code.svg");
    let png_path = dir.join("code.png");
    std::fs::write(&svg_path, svg).expect("write the SVG");
    run(
        "rsvg-convert",
        "librsvg2-bin",
        &["-o".as_ref(), png_path.as_os_str(), svg_path.as_os_str()],
    );
    let text = run(
        "zbarimg",
        "zbar-tools",
        &["--quiet".as_ref(), "--raw".as_ref(), png_path.as_os_str()],
    );
    text.trim_end_matches('\n').to_owned()
}

#[test]
fn enrolment_qr_code_decodes_to_the_uri() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let secret = TotpSecret::generate();
    let uri = otpauth_uri(&secret, "Veil Site A", "alice.smith@example.org");
    let svg = qr_svg(&uri).expect("a URI fits in a QR code");
    assert_eq!(decode_svg(&svg, dir.path()), uri);
}

#[test]
fn longer_text_decodes_too() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let text = "otpauth://totp/".to_owned() + &"x".repeat(600);
    let svg = qr_svg(&text).expect("600 bytes fit in a QR code");
    assert_eq!(decode_svg(&svg, dir.path()), text);
}
