//! TOTP codes checked against an independent implementation: `oathtool` from
//! the OATH Toolkit (Debian package `oathtool`). The tool is required; a missing
//! tool fails the test with the package to install.

use std::process::Command;

use veil_access::totp::{code_at, TotpSecret};

fn oathtool_code(secret_base32: &str, unix_secs: i64) -> String {
    let output = Command::new("oathtool")
        .args(["--totp", "--base32", "--digits=6", "--time-step-size=30s"])
        .arg(format!("--now=@{unix_secs}"))
        .arg(secret_base32)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run oathtool ({e}): install the Debian package oathtool")
        });
    assert!(
        output.status.success(),
        "oathtool failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("oathtool prints ASCII")
        .trim_end()
        .to_owned()
}

#[test]
fn codes_match_oathtool() {
    let times = [
        59,
        1_111_111_109,
        1_234_567_890,
        1_700_000_000,
        1_700_000_029,
        2_000_000_000,
    ];
    for _ in 0..4 {
        let secret = TotpSecret::generate();
        let base32 = secret.to_base32();
        for t in times {
            let ours = format!("{:06}", code_at(&secret, t));
            assert_eq!(ours, oathtool_code(&base32, t), "t={t}");
        }
    }
}
