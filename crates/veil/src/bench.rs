//! `veil bench …`: placeholder replaced below.
#[derive(clap::Subcommand)]
pub enum Bench {}
pub async fn run(b: Bench) -> anyhow::Result<()> {
    match b {}
}
