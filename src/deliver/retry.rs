//! Retrying deliveries: which failures are worth another try, and when. The one
//! backoff policy of the gateway (STYLE.md §2), for the outbox and for push.
//!
//! Mail: the only reader of lettre's error classes: a 4xx reply, a broken
//! connection, a TLS failure or a timeout is transient; a 5xx reply is permanent and
//! the message is given up at once. Delays grow fourfold from one second, with jitter,
//! up to an hour; the mailer gives up after `mail.max_attempts`.
//!
//! Push: the only reader of [`PushError::is_transient`]; the same fourfold growth and
//! jitter, from `push.first_retry_ms` up to `push.max_retry_secs`, giving up after
//! `push.max_attempts`.

use std::time::Duration;

use uuid::Uuid;

/// First retry delay; each further one is four times longer, up to [`MAX_DELAY`].
/// With the default 10 attempts the last is tried about 3.5 hours after the first.
const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(3600);

/// How an attempt failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// The relay refused it for good (5xx): retrying cannot help.
    Permanent,
    /// 4xx, connection, TLS or timeout: worth another try later.
    Transient(&'static str),
    /// Our own stored message cannot be read: retrying cannot help.
    Unreadable,
}

impl Failure {
    pub(super) fn class(self) -> &'static str {
        match self {
            Failure::Permanent => "permanent",
            Failure::Transient(c) => c,
            Failure::Unreadable => "unreadable",
        }
    }
}

pub(super) fn classify(e: &lettre::transport::smtp::Error) -> Failure {
    // RFC 5321 §4.2.1: 4yz is a transient negative completion, 5yz permanent.
    if e.is_permanent() {
        Failure::Permanent
    } else if e.is_transient() {
        Failure::Transient("transient")
    } else if e.is_timeout() {
        Failure::Transient("timeout")
    } else if e.is_tls() {
        Failure::Transient("tls")
    } else {
        Failure::Transient("connection")
    }
}

/// The delay before attempt `made + 1`: exponential (×4) with a cap, and "equal
/// jitter" (half fixed, half random) so mail queued together does not retry in step.
pub(super) fn backoff(made: u32, random: u64) -> Duration {
    backoff_within(FIRST_DELAY, MAX_DELAY, made, random)
}

/// [`backoff`] from `first` up to `cap`.
pub(super) fn backoff_within(first: Duration, cap: Duration, made: u32, random: u64) -> Duration {
    let exp = first.saturating_mul(4u32.saturating_pow(made.saturating_sub(1)));
    let full = exp.min(cap);
    let half = full / 2;
    let spread = u64::try_from(half.as_millis()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_millis(random % spread)
}

/// What to do after a push attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PushNext {
    /// Try again after this delay.
    Retry(Duration),
    /// Dead-letter it: refused for good, or out of attempts.
    GiveUp,
}

/// The push policy: a transient failure is retried (backoff with jitter) until
/// `max_attempts` have been made; anything else is given up at once.
pub(super) fn after_push_failure(
    e: &super::push::PushError,
    made: u32,
    policy: &crate::config::PushSettings,
    random: u64,
) -> PushNext {
    if !e.is_transient() || made >= policy.max_attempts {
        return PushNext::GiveUp;
    }
    let first = Duration::from_millis(policy.first_retry_ms);
    let cap = Duration::from_secs(policy.max_retry_secs).max(first);
    PushNext::Retry(backoff_within(first, cap, made, random))
}

pub(super) fn random_u64() -> u64 {
    // uuid v4 draws from the OS generator; jitter needs no more than that.
    let (hi, _) = Uuid::new_v4().as_u64_pair();
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_fourfold_with_jitter_within_half() {
        for (made, full) in [(1, 1_000), (2, 4_000), (3, 16_000), (9, 3_600_000)] {
            for random in [0, 7, 123_456_789, u64::MAX] {
                let d = backoff(made, random).as_millis() as u64;
                assert!(d >= full / 2 && d < full, "attempt {made}: {d} ms");
            }
        }
    }

    #[test]
    fn push_failures_retry_only_while_transient_and_attempts_remain() {
        let policy = crate::config::PushSettings {
            client_cert: "c".into(),
            client_key: "k".into(),
            ca: "a".into(),
            max_attempts: 3,
            timeout_secs: 1,
            first_retry_ms: 100,
            max_retry_secs: 1,
            poll_interval_ms: 1,
            concurrency: 1,
        };
        let busy = super::super::push::PushError::Status { status: 503 };
        let refused = super::super::push::PushError::Status { status: 400 };
        match after_push_failure(&busy, 1, &policy, 0) {
            PushNext::Retry(d) => assert_eq!(d, Duration::from_millis(50)),
            other => panic!("{other:?}"),
        }
        match after_push_failure(&busy, 3, &policy, u64::MAX) {
            PushNext::GiveUp => {}
            other => panic!("{other:?}"),
        }
        // Capped at max_retry_secs, whatever the attempt.
        assert!(
            matches!(after_push_failure(&busy, 2, &policy, 7), PushNext::Retry(d) if d < Duration::from_secs(1))
        );
        assert_eq!(
            after_push_failure(&refused, 1, &policy, 0),
            PushNext::GiveUp
        );
    }
}
