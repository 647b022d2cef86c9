//! The referral lifecycle of DESIGN.md and the transitions it allows.
//!
//! `received → (needs-review →) ready → delivered → acknowledged → accepted | rejected →
//! booked → completed`, plus `rejected-at-intake` and `dead-letter`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a referral is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Received,
    NeedsReview,
    Ready,
    Delivered,
    Acknowledged,
    Accepted,
    Rejected,
    Booked,
    Completed,
    RejectedAtIntake,
    DeadLetter,
}

/// A transition the lifecycle does not allow. Carries only states, never patient data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("transition from {from} to {to} is not allowed")]
pub struct TransitionError {
    pub from: State,
    pub to: State,
}

impl State {
    pub const ALL: [State; 11] = [
        State::Received,
        State::NeedsReview,
        State::Ready,
        State::Delivered,
        State::Acknowledged,
        State::Accepted,
        State::Rejected,
        State::Booked,
        State::Completed,
        State::RejectedAtIntake,
        State::DeadLetter,
    ];

    /// The kebab-case name used in the API, the store and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Received => "received",
            State::NeedsReview => "needs-review",
            State::Ready => "ready",
            State::Delivered => "delivered",
            State::Acknowledged => "acknowledged",
            State::Accepted => "accepted",
            State::Rejected => "rejected",
            State::Booked => "booked",
            State::Completed => "completed",
            State::RejectedAtIntake => "rejected-at-intake",
            State::DeadLetter => "dead-letter",
        }
    }

    /// Whether the lifecycle allows moving from `self` to `to`.
    pub fn can_move_to(self, to: State) -> bool {
        use State::*;
        matches!(
            (self, to),
            (Received, NeedsReview | Ready | RejectedAtIntake)
                | (NeedsReview, Ready | RejectedAtIntake)
                | (Ready, Delivered | DeadLetter)
                // A provider may download the same message again before acknowledging it.
                | (Delivered, Delivered | Acknowledged | DeadLetter)
                | (DeadLetter, Ready)
                | (Acknowledged, Accepted | Rejected)
                | (Accepted, Booked | Completed)
                | (Booked, Completed)
        )
    }

    /// Checks a transition.
    ///
    /// # Errors
    /// [`TransitionError`] when the lifecycle does not allow it.
    pub fn check_move_to(self, to: State) -> Result<State, TransitionError> {
        if self.can_move_to(to) {
            Ok(to)
        } else {
            Err(TransitionError { from: self, to })
        }
    }

    /// True while the referral waits in its provider's inbox.
    pub fn is_in_inbox(self) -> bool {
        matches!(self, State::Ready | State::Delivered)
    }

    /// The FHIR Task.status that best describes this state (standards.md §3).
    pub fn fhir_task_status(self) -> &'static str {
        match self {
            State::Received | State::NeedsReview => "received",
            State::Ready | State::Delivered => "requested",
            State::Acknowledged => "received",
            State::Accepted => "accepted",
            State::Rejected | State::RejectedAtIntake => "rejected",
            State::Booked => "in-progress",
            State::Completed => "completed",
            State::DeadLetter => "failed",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a state name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown referral state")]
pub struct UnknownState;

impl FromStr for State {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or(UnknownState)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path_is_allowed() {
        let path = [
            State::Received,
            State::Ready,
            State::Delivered,
            State::Acknowledged,
            State::Accepted,
            State::Booked,
            State::Completed,
        ];
        for w in path.windows(2) {
            assert!(w[0].can_move_to(w[1]), "{} -> {}", w[0], w[1]);
        }
    }

    #[test]
    fn booked_before_accepted_is_refused() {
        assert_eq!(
            State::Acknowledged.check_move_to(State::Booked),
            Err(TransitionError {
                from: State::Acknowledged,
                to: State::Booked
            })
        );
        assert!(!State::Ready.can_move_to(State::Acknowledged));
        assert!(!State::Completed.can_move_to(State::Ready));
    }

    #[test]
    fn state_names_round_trip() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>().unwrap(), s);
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }
}
