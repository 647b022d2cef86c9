//! `refgate init`: demo configuration and development certificates. (Being written.)
/// Stand-in.
pub struct InitReport;
/// Stand-in.
pub fn init(_dir: &std::path::Path) -> anyhow::Result<InitReport> {
    anyhow::bail!("stand-in")
}
/// Stand-in.
pub fn first_referral_hint(_r: &InitReport, _listen: &str) -> String {
    String::new()
}
