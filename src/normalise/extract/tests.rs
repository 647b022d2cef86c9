//! Letter-level rules, each shown on a small snippet.

use super::*;
