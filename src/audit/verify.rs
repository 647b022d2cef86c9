//! Recomputes the chain and reports the first broken link.

use super::{AuditEvent, GENESIS, link};

/// Where and why the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at event {seq}: {reason}")]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: &'static str,
}

/// Checks events in sequence order. Returns how many were verified.
///
/// # Errors
/// The first [`BrokenLink`]: a gap in sequence numbers, a `prev_hash` that is not the
/// previous event's hash, or a hash that does not match the event's content.
pub fn verify<I>(events: I) -> Result<u64, BrokenLink>
where
    I: IntoIterator<Item = AuditEvent>,
{
    let mut prev = GENESIS;
    let mut count: u64 = 0;
    for (expected_seq, ev) in (1..).zip(events) {
        if ev.seq != expected_seq {
            return Err(BrokenLink {
                seq: ev.seq,
                reason: "sequence gap (an event was removed or inserted)",
            });
        }
        if ev.prev_hash != prev {
            return Err(BrokenLink {
                seq: ev.seq,
                reason: "previous-hash does not match the preceding event",
            });
        }
        if link(&prev, &ev.canonical_bytes()) != ev.hash {
            return Err(BrokenLink {
                seq: ev.seq,
                reason: "content does not match its hash (event altered)",
            });
        }
        prev = ev.hash;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::audit::{Action, AuditDraft, Outcome};
    use crate::domain::{OrgId, ReferralId};

    fn chain(n: i64) -> Vec<AuditEvent> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let d = AuditDraft {
                    actor: Some(OrgId::parse("RCB55").unwrap()),
                    action: Action::Intake,
                    referral_id: Some(ReferralId::new()),
                    outcome: Outcome::Success,
                    detail: Some("channel=http".into()),
                };
                let ev = AuditEvent::chain(&d, seq, Utc::now(), prev);
                prev = ev.hash;
                ev
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify(chain(5)), Ok(5));
        assert_eq!(verify(Vec::new()), Ok(0));
    }

    #[test]
    fn an_altered_event_is_found() {
        let mut c = chain(5);
        c[2].outcome = "failure".into();
        assert_eq!(verify(c).unwrap_err().seq, 3);
    }

    #[test]
    fn a_removed_event_is_found() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify(c).unwrap_err().seq, 3);
    }

    #[test]
    fn a_rehashed_event_still_breaks_the_next_link() {
        let mut c = chain(4);
        c[1].detail = Some("forged".into());
        c[1].hash = link(&c[1].prev_hash, &c[1].canonical_bytes());
        let err = verify(c).unwrap_err();
        assert_eq!(
            (err.seq, err.reason),
            (3, "previous-hash does not match the preceding event")
        );
    }
}
