//! Route: decide which provider receives a referral, from the configured directory.
//!
//! Inputs: the normalised record and the routing settings. Output: a provider and the
//! rule that chose it. Pure: no I/O, no store. A referrer never names the provider;
//! the gateway's directory does, so destinations can change without referrers knowing.

use crate::config::{Route, RoutingSettings};
use crate::domain::{OrgId, Postcode, Referral};

/// The routing table, prepared once from settings.
#[derive(Debug, Clone)]
pub struct Router {
    routes: Vec<PreparedRoute>,
    default_provider: OrgId,
}

#[derive(Debug, Clone)]
struct PreparedRoute {
    provider: OrgId,
    gp_ods: Vec<String>,
    postcode_prefixes: Vec<String>,
    pathways: Vec<String>,
}

/// Where a referral goes and why (for the audit log and `config check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub provider: OrgId,
    /// `routes[i]` or `default`.
    pub rule: String,
}

impl Router {
    /// Prepares the rules: codes upper-cased, pathway words lower-cased.
    pub fn new(settings: &RoutingSettings) -> Self {
        let prep = |r: &Route| PreparedRoute {
            provider: r.provider.clone(),
            gp_ods: r
                .gp_ods
                .iter()
                .map(|s| s.trim().to_ascii_uppercase())
                .collect(),
            postcode_prefixes: r
                .postcode_prefixes
                .iter()
                .map(|s| {
                    s.split_whitespace()
                        .collect::<String>()
                        .to_ascii_uppercase()
                })
                .collect(),
            pathways: r.pathways.iter().map(|s| s.trim().to_lowercase()).collect(),
        };
        Self {
            routes: settings.routes.iter().map(prep).collect(),
            default_provider: settings.default_provider.clone(),
        }
    }

    /// The first rule whose every given criterion matches, else the default provider.
    pub fn route(&self, record: &Referral) -> Decision {
        let facts = Facts::of(record);
        for (i, r) in self.routes.iter().enumerate() {
            if r.matches(&facts) {
                return Decision {
                    provider: r.provider.clone(),
                    rule: format!("routes[{i}]"),
                };
            }
        }
        Decision {
            provider: self.default_provider.clone(),
            rule: "default".to_owned(),
        }
    }
}

/// The parts of a record routing looks at, normalised once.
struct Facts {
    gp_ods: Option<String>,
    postcode: Option<String>,
    text: String,
}

impl Facts {
    fn of(r: &Referral) -> Self {
        let mut text = r.requested_service.clone().unwrap_or_default();
        for d in &r.diagnoses {
            text.push(' ');
            text.push_str(d);
        }
        Self {
            gp_ods: r
                .gp
                .ods_code
                .as_deref()
                .map(|s| s.trim().to_ascii_uppercase()),
            postcode: r
                .patient
                .postcode
                .as_deref()
                .and_then(|p| Postcode::parse(p).ok())
                .map(|p| p.as_str().replace(' ', "")),
            text: text.to_lowercase(),
        }
    }
}

impl PreparedRoute {
    fn matches(&self, f: &Facts) -> bool {
        let gp =
            self.gp_ods.is_empty() || f.gp_ods.as_ref().is_some_and(|c| self.gp_ods.contains(c));
        let pc = self.postcode_prefixes.is_empty()
            || f.postcode.as_ref().is_some_and(|p| {
                self.postcode_prefixes
                    .iter()
                    .any(|pre| postcode_has_prefix(p, pre))
            });
        let pw =
            self.pathways.is_empty() || self.pathways.iter().any(|w| f.text.contains(w.as_str()));
        gp && pc && pw
    }
}

// "LS" must match LS1 and LS27 but not "L" area codes such as L39; a prefix made only
// of letters therefore has to be followed by a digit.
fn postcode_has_prefix(postcode: &str, prefix: &str) -> bool {
    postcode.starts_with(prefix)
        && (prefix.chars().any(|c| c.is_ascii_digit())
            || postcode[prefix.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        let toml = r#"
            default_provider = "TTNORTH"
            [[routes]]
            provider = "TTWEST"
            gp_ods = ["b86001"]
            [[routes]]
            provider = "TTWEST"
            postcode_prefixes = ["LS"]
            [[routes]]
            provider = "TTPAIN"
            postcode_prefixes = ["HG2"]
            pathways = ["fibromyalgia"]
        "#;
        Router::new(&toml::from_str(toml).unwrap())
    }

    fn referral(ods: Option<&str>, postcode: Option<&str>, diagnosis: &str) -> Referral {
        let mut r = Referral::default();
        r.gp.ods_code = ods.map(Into::into);
        r.patient.postcode = postcode.map(Into::into);
        r.diagnoses = vec![diagnosis.into()];
        r
    }

    #[test]
    fn gp_practice_code_routes_before_postcode() {
        let d = router().route(&referral(Some("B86001"), Some("HG2 0DJ"), "Fibromyalgia"));
        assert_eq!(
            (d.provider.as_str(), d.rule.as_str()),
            ("TTWEST", "routes[0]")
        );
    }

    #[test]
    fn postcode_area_prefix_does_not_match_a_longer_area() {
        assert_eq!(
            router()
                .route(&referral(None, Some("LS1 4AP"), "x"))
                .provider
                .as_str(),
            "TTWEST"
        );
        assert_eq!(
            router()
                .route(&referral(None, Some("L39 3AN"), "x"))
                .provider
                .as_str(),
            "TTNORTH"
        );
    }

    #[test]
    fn every_criterion_of_a_rule_must_match() {
        assert_eq!(
            router()
                .route(&referral(None, Some("HG2 0DJ"), "Fibromyalgia"))
                .provider
                .as_str(),
            "TTPAIN"
        );
        assert_eq!(
            router()
                .route(&referral(None, Some("HG2 0DJ"), "Back pain"))
                .provider
                .as_str(),
            "TTNORTH"
        );
    }

    #[test]
    fn unknown_location_goes_to_the_default_provider() {
        let d = router().route(&referral(None, None, "x"));
        assert_eq!(
            (d.provider.as_str(), d.rule.as_str()),
            ("TTNORTH", "default")
        );
    }
}
